package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/models"
)

const testLease = 5 * time.Minute

func TestEmailRetryDelay(t *testing.T) {
	cases := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 30 * time.Second}, // defensive: never less than the first delay
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{4, 4 * time.Minute},
		{7, 32 * time.Minute},
		{8, time.Hour}, // 64m is capped
		{9, time.Hour},
		{models.MaxEmailAttempts, time.Hour},
		{1000, time.Hour}, // no overflow
	}
	for _, c := range cases {
		if got := models.EmailRetryDelay(c.attempt); got != c.want {
			t.Errorf("EmailRetryDelay(%d) = %v, want %v", c.attempt, got, c.want)
		}
	}
}

// newOutbox is an empty platform: its own tenant alone, under which mail
// about no tenant is filed.
func newOutbox(t *testing.T) *models.Store {
	t.Helper()
	store := models.NewStore(testdb.Open(t))
	if _, err := store.CreateTenant(context.Background(), models.NewTenant{Name: "Platform", Subdomain: "platform", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	return store
}

// TestMailAboutNoTenantIsFiledUnderThePlatform: every message has a
// tenant (the outbox is distributed by it); before the platform's tenant
// exists there is none to file such mail under, and enqueuing says so.
func TestMailAboutNoTenantIsFiledUnderThePlatform(t *testing.T) {
	ctx := context.Background()
	bare := models.NewStore(testdb.Open(t))
	if err := bare.EnqueueEmail(ctx, models.NewEmail{To: "dave@acme.test", Subject: "s", Body: "b"}); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("enqueue before the platform exists: %v, want ErrNotFound", err)
	}
	store := newOutbox(t)
	platform, err := store.TenantBySubdomain(ctx, "platform")
	if err != nil {
		t.Fatal(err)
	}
	about, err := store.CreateTenant(ctx, models.NewTenant{ParentID: platform.ID, Name: "Acme", Subdomain: "acme", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		about int64
		want  int64
	}{{0, platform.ID}, {about.ID, about.ID}} {
		subject := fmt.Sprintf("about %d", c.about)
		if err := store.EnqueueEmail(ctx, models.NewEmail{TenantID: c.about, To: "dave@acme.test", Subject: subject, Body: "b"}); err != nil {
			t.Fatal(err)
		}
		emails, err := store.OutboxFor(ctx, "dave@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		got := emails[len(emails)-1]
		if got.Subject != subject || got.TenantID == nil || *got.TenantID != c.want {
			t.Errorf("%s: filed under %v, want %d", subject, got.TenantID, c.want)
		}
	}
}

func enqueue(t *testing.T, store *models.Store, to, subject string) models.OutboxEmail {
	t.Helper()
	ctx := context.Background()
	if err := store.EnqueueEmail(ctx, models.NewEmail{To: to, Subject: subject, Body: "Hello " + to}); err != nil {
		t.Fatal(err)
	}
	emails, err := store.OutboxFor(ctx, to)
	if err != nil {
		t.Fatal(err)
	}
	return emails[len(emails)-1]
}

func emailByID(t *testing.T, store *models.Store, to string, id int64) models.OutboxEmail {
	t.Helper()
	emails, err := store.OutboxFor(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range emails {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("email %d to %s not in the outbox", id, to)
	return models.OutboxEmail{}
}

func claimIDs(t *testing.T, store *models.Store, limit int) []int64 {
	t.Helper()
	claimed, err := store.ClaimDueEmails(context.Background(), limit, testLease)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(claimed))
	for i, e := range claimed {
		ids[i] = e.ID
	}
	return ids
}

func near(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -5*time.Second && d < 5*time.Second
}

func TestClaimDueEmailsLeasesEachMessageOnce(t *testing.T) {
	store := newOutbox(t)
	ctx := context.Background()
	first := enqueue(t, store, "a@example.test", "first")
	second := enqueue(t, store, "b@example.test", "second")
	third := enqueue(t, store, "c@example.test", "third")
	later := enqueue(t, store, "d@example.test", "not due yet")
	if err := store.ExecForTest(ctx, `UPDATE outbox_emails SET next_attempt_at = ? WHERE id = ?`, time.Now().UTC().Add(time.Hour), later.ID); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	claimed, err := store.ClaimDueEmails(ctx, 2, testLease)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 || claimed[0].ID != first.ID || claimed[1].ID != second.ID {
		t.Fatalf("first claim = %+v, want the two oldest messages", claimed)
	}
	for _, e := range claimed {
		if e.LockedUntil == nil || !near(*e.LockedUntil, before.Add(testLease)) {
			t.Errorf("message %d locked until %v, want about now + %v", e.ID, e.LockedUntil, testLease)
		}
		if e.Subject == "" || e.BodyText == "" || e.ToAddress == "" {
			t.Errorf("claimed message %d came back without its content: %+v", e.ID, e)
		}
	}

	if got := claimIDs(t, store, 10); !slices.Equal(got, []int64{third.ID}) {
		t.Fatalf("second claim = %v, want only %d: leased and future messages are not due", got, third.ID)
	}
	if got := claimIDs(t, store, 10); len(got) != 0 {
		t.Fatalf("third claim = %v, want nothing while every due message is leased", got)
	}

	// A worker that died mid-send: once its lease runs out, the message is due again.
	if err := store.ExecForTest(ctx, `UPDATE outbox_emails SET locked_until = ? WHERE id = ?`, time.Now().UTC().Add(-time.Second), first.ID); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, store, 10); !slices.Equal(got, []int64{first.ID}) {
		t.Fatalf("claim after the lease expired = %v, want %d", got, first.ID)
	}

	// A released message is due at once, without waiting for the lease.
	if err := store.ReleaseEmail(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, store, 10); !slices.Equal(got, []int64{second.ID}) {
		t.Fatalf("claim after release = %v, want %d", got, second.ID)
	}
	if got := emailByID(t, store, "b@example.test", second.ID); got.Attempts != 0 {
		t.Errorf("release counted as an attempt: attempts = %d", got.Attempts)
	}
}

func TestClaimDueEmailsConcurrentWorkersNeverShare(t *testing.T) {
	store := newOutbox(t)
	const messages, workers = 30, 6
	for i := range messages {
		enqueue(t, store, fmt.Sprintf("user%d@example.test", i), "hello")
	}

	var (
		mu      sync.Mutex
		claimed = map[int64]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				batch, err := store.ClaimDueEmails(context.Background(), 4, testLease)
				if err != nil {
					errs <- err
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				for _, e := range batch {
					claimed[e.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != messages {
		t.Errorf("%d distinct messages claimed, want %d", len(claimed), messages)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("message %d claimed %d times while leased", id, n)
		}
	}
}

func TestMarkEmailFailedBacksOffThenGivesUp(t *testing.T) {
	store := newOutbox(t)
	ctx := context.Background()
	const to = "flaky@example.test"
	msg := enqueue(t, store, to, "retry me")
	if got := claimIDs(t, store, 1); !slices.Equal(got, []int64{msg.ID}) {
		t.Fatalf("claim = %v, want %d", got, msg.ID)
	}

	reason := "421 4.7.0 try again later " + strings.Repeat("é", 2000)
	before := time.Now()
	gaveUp, err := store.MarkEmailFailed(ctx, msg.ID, reason, models.EmailRetryDelay(1))
	if err != nil {
		t.Fatal(err)
	}
	got := emailByID(t, store, to, msg.ID)
	switch {
	case gaveUp || got.Status != models.EmailPending:
		t.Fatalf("after one failure: gaveUp=%v status=%q, want a retry", gaveUp, got.Status)
	case got.Attempts != 1:
		t.Errorf("attempts = %d, want 1", got.Attempts)
	case got.LockedUntil != nil:
		t.Errorf("lock not cleared: %v", got.LockedUntil)
	case !near(got.NextAttemptAt, before.Add(30*time.Second)):
		t.Errorf("next attempt at %v, want about 30s from %v", got.NextAttemptAt, before)
	case len(got.LastError) > 1000 || !strings.HasPrefix(got.LastError, "421 4.7.0 try again later"):
		t.Errorf("last_error not kept and truncated: %d bytes, %.40q", len(got.LastError), got.LastError)
	case !strings.HasSuffix(got.LastError, "é"):
		t.Errorf("truncation cut a character in half: %q", got.LastError[len(got.LastError)-4:])
	}
	if ids := claimIDs(t, store, 10); len(ids) != 0 {
		t.Fatalf("claimed %v during the back-off", ids)
	}

	// Every further failure but the last keeps it pending; the last gives up.
	for attempt := 2; attempt <= models.MaxEmailAttempts; attempt++ {
		gaveUp, err := store.MarkEmailFailed(ctx, msg.ID, fmt.Sprintf("failure %d", attempt), models.EmailRetryDelay(attempt))
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if wantGiveUp := attempt == models.MaxEmailAttempts; gaveUp != wantGiveUp {
			t.Fatalf("attempt %d: gaveUp = %v, want %v", attempt, gaveUp, wantGiveUp)
		}
	}
	got = emailByID(t, store, to, msg.ID)
	if got.Status != models.EmailFailed || got.Attempts != models.MaxEmailAttempts || got.SentAt != nil {
		t.Fatalf("after %d failures: status=%q attempts=%d sent_at=%v, want failed", models.MaxEmailAttempts, got.Status, got.Attempts, got.SentAt)
	}
	if got.LastError != fmt.Sprintf("failure %d", models.MaxEmailAttempts) {
		t.Errorf("last_error = %q, want the last failure", got.LastError)
	}

	// Given up is final: even when its time comes, it is not claimed or retried.
	if err := store.ExecForTest(ctx, `UPDATE outbox_emails SET next_attempt_at = ? WHERE id = ?`, time.Now().UTC().Add(-time.Hour), msg.ID); err != nil {
		t.Fatal(err)
	}
	if ids := claimIDs(t, store, 10); len(ids) != 0 {
		t.Fatalf("claimed a message that was given up on: %v", ids)
	}
	if _, err := store.MarkEmailFailed(ctx, msg.ID, "again", time.Second); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("failing a given-up message: err = %v, want ErrNotFound", err)
	}
}

func TestMarkEmailSentIsFinal(t *testing.T) {
	store := newOutbox(t)
	ctx := context.Background()
	const to = "done@example.test"
	msg := enqueue(t, store, to, "welcome")
	if got := claimIDs(t, store, 1); !slices.Equal(got, []int64{msg.ID}) {
		t.Fatalf("claim = %v, want %d", got, msg.ID)
	}
	if _, err := store.MarkEmailFailed(ctx, msg.ID, "timeout", 0); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, store, 1); !slices.Equal(got, []int64{msg.ID}) {
		t.Fatalf("retry claim = %v, want %d", got, msg.ID)
	}
	before := time.Now()
	if err := store.MarkEmailSent(ctx, msg.ID); err != nil {
		t.Fatal(err)
	}
	got := emailByID(t, store, to, msg.ID)
	switch {
	case got.Status != models.EmailSent:
		t.Fatalf("status = %q, want sent", got.Status)
	case got.SentAt == nil || !near(*got.SentAt, before):
		t.Errorf("sent_at = %v, want about %v", got.SentAt, before)
	case got.Attempts != 2:
		t.Errorf("attempts = %d, want 2 (one failure, one success)", got.Attempts)
	case got.LockedUntil != nil:
		t.Errorf("lock not cleared: %v", got.LockedUntil)
	case got.LastError != "":
		t.Errorf("last_error = %q, want it cleared on success", got.LastError)
	}

	if ids := claimIDs(t, store, 10); len(ids) != 0 {
		t.Fatalf("claimed a sent message: %v", ids)
	}
	if _, err := store.MarkEmailFailed(ctx, msg.ID, "late failure", time.Second); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("failing a sent message: err = %v, want ErrNotFound", err)
	}
	if err := store.ReleaseEmail(ctx, msg.ID); err != nil {
		t.Fatal(err)
	}
	if got := emailByID(t, store, to, msg.ID); got.Status != models.EmailSent || got.Attempts != 2 {
		t.Errorf("a sent message changed afterwards: status=%q attempts=%d", got.Status, got.Attempts)
	}
}

func TestOutboxForListsOneAddress(t *testing.T) {
	store := newOutbox(t)
	first := enqueue(t, store, "dave@acme.test", "one")
	enqueue(t, store, "eve@acme.test", "other person")
	second := enqueue(t, store, "dave@acme.test", "two")

	emails, err := store.OutboxFor(context.Background(), " Dave@ACME.test ")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range emails {
		subjects = append(subjects, e.Subject)
	}
	if len(emails) != 2 || emails[0].ID != first.ID || emails[1].ID != second.ID {
		t.Fatalf("OutboxFor(dave) = %v, want [one two] in order", subjects)
	}
	if emails[0].Status != models.EmailPending || emails[0].TenantID == nil {
		t.Errorf("new message: status=%q tenant=%v, want pending, filed under the platform", emails[0].Status, emails[0].TenantID)
	}
}
