package mailer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"canopy/internal/mailer"
	"canopy/internal/testdb"
	"canopy/models"
)

// noBackoff retries at once, so retry tests take milliseconds.
func noBackoff(int) time.Duration { return 0 }

// newPlatform is an empty platform: its own tenant alone, under which mail
// about no tenant is filed.
func newPlatform(t *testing.T) *models.Store {
	t.Helper()
	store := models.NewStore(testdb.Open(t))
	if _, err := store.CreateTenant(context.Background(), models.NewTenant{Name: "Platform", Subdomain: "platform", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	return store
}

func enqueueInvite(t *testing.T, store *models.Store, to string) {
	t.Helper()
	err := store.EnqueueEmail(context.Background(), models.NewEmail{
		To:      to,
		Subject: "You’re invited to Acme Corp",
		Body:    "Hello,\n\nAlice invited you to Acme Corp. Accept the invitation:\n\n" + inviteLink + "\n\nThe link works once and expires in 7 days.\n",
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWorkerDeliversOverSMTP(t *testing.T) {
	cases := []struct {
		name      string
		failFirst int // deliveries the server refuses with 451 before accepting
	}{
		{"accepted at once", 0},
		{"retried after temporary failures", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := newPlatform(t)
			server, cfg := startSMTPServer(t, c.failFirst)
			sender, err := mailer.NewSMTPSender(cfg)
			if err != nil {
				t.Fatal(err)
			}
			const to = "new.person@example.test"
			enqueueInvite(t, store, to)
			runWorker(t, mailer.NewWorker(store, sender, testLogger(t),
				mailer.WithPollInterval(10*time.Millisecond), mailer.WithRetryDelay(noBackoff)))

			row := waitForStatus(t, store, to, models.EmailSent)
			if row.Attempts != c.failFirst+1 || row.SentAt == nil || row.LockedUntil != nil {
				t.Errorf("outbox row: attempts=%d sent_at=%v locked_until=%v, want %d attempts, sent, unlocked", row.Attempts, row.SentAt, row.LockedUntil, c.failFirst+1)
			}
			if got := server.deliveryAttempts(); got != c.failFirst+1 {
				t.Errorf("server saw %d deliveries, want %d", got, c.failFirst+1)
			}
			got := server.received()
			if len(got) != 1 {
				t.Fatalf("server accepted %d messages, want exactly 1", len(got))
			}
			if got[0].envelopeFrom != "no-reply@canopy.test" || !slices.Equal(got[0].envelopeTo, []string{to}) {
				t.Errorf("envelope from %q to %v, want no-reply@canopy.test to [%s]", got[0].envelopeFrom, got[0].envelopeTo, to)
			}
			header, body := parseEmail(t, got[0].data)
			if from := addressOf(t, header.Get("From")); from != "no-reply@canopy.test" {
				t.Errorf("From = %q", from)
			}
			if rcpt := addressOf(t, header.Get("To")); rcpt != to {
				t.Errorf("To = %q, want %q", rcpt, to)
			}
			if subject := header.Get("Subject"); subject != "You’re invited to Acme Corp" {
				t.Errorf("Subject = %q", subject)
			}
			if links := mailer.Links(body); !slices.Equal(links, []string{inviteLink}) {
				t.Errorf("links in the delivered body = %q, want exactly %q\nbody:\n%s", links, inviteLink, body)
			}
		})
	}
}

func TestWorkerGivesUpAfterMaxAttempts(t *testing.T) {
	store := newPlatform(t)
	server, cfg := startSMTPServer(t, 1_000_000) // refuses everything
	sender, err := mailer.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const to = "never@example.test"
	enqueueInvite(t, store, to)
	runWorker(t, mailer.NewWorker(store, sender, testLogger(t),
		mailer.WithPollInterval(5*time.Millisecond), mailer.WithRetryDelay(noBackoff)))

	row := waitForStatus(t, store, to, models.EmailFailed)
	if row.Attempts != models.MaxEmailAttempts || row.LastError == "" {
		t.Errorf("given up after %d attempts with last error %q, want %d and the server's answer", row.Attempts, row.LastError, models.MaxEmailAttempts)
	}
	time.Sleep(50 * time.Millisecond) // ten more polls: nothing more is sent
	if got := server.deliveryAttempts(); got != models.MaxEmailAttempts {
		t.Errorf("server saw %d deliveries, want exactly %d", got, models.MaxEmailAttempts)
	}
}

func TestWorkerNotifyDeliversWithoutWaitingForThePoll(t *testing.T) {
	store := newPlatform(t)
	server, cfg := startSMTPServer(t, 0)
	sender, err := mailer.NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := mailer.NewWorker(store, sender, testLogger(t), mailer.WithPollInterval(time.Hour))
	runWorker(t, w)
	time.Sleep(20 * time.Millisecond) // let the first, empty, pass finish

	const to = "prompt@example.test"
	enqueueInvite(t, store, to)
	w.Notify()
	w.Notify() // a second wake-up while one is pending must not block
	waitForStatus(t, store, to, models.EmailSent)
	if got := len(server.received()); got != 1 {
		t.Errorf("server accepted %d messages, want 1", got)
	}
}

// blockingSender holds each Send until released, to stop the worker mid-send.
type blockingSender struct {
	started chan int64
	release chan struct{}
}

func (s *blockingSender) Send(_ context.Context, msg mailer.Message) error {
	s.started <- msg.ID
	<-s.release
	return nil
}

func TestWorkerStopFinishesTheMessageInHand(t *testing.T) {
	store := newPlatform(t)
	addresses := []string{"one@example.test", "two@example.test", "three@example.test"}
	for _, to := range addresses {
		enqueueInvite(t, store, to)
	}
	sender := &blockingSender{started: make(chan int64, 10), release: make(chan struct{})}
	w := mailer.NewWorker(store, sender, testLogger(t), mailer.WithPollInterval(10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()

	select {
	case <-sender.started:
	case <-time.After(5 * time.Second):
		t.Fatal("worker never started sending")
	}
	cancel()
	select {
	case <-stopped:
		t.Fatal("Run returned while a message was still being sent")
	case <-time.After(50 * time.Millisecond):
	}
	close(sender.release)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the message in hand was sent")
	}
	if extra := len(sender.started); extra != 0 {
		t.Errorf("%d more messages were started after cancellation", extra)
	}

	ctx = context.Background()
	first, err := store.OutboxFor(ctx, addresses[0])
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Status != models.EmailSent {
		t.Errorf("message in hand: status %q, want sent", first[0].Status)
	}
	for _, to := range addresses[1:] {
		rest, err := store.OutboxFor(ctx, to)
		if err != nil {
			t.Fatal(err)
		}
		if e := rest[0]; e.Status != models.EmailPending || e.Attempts != 0 || e.LockedUntil != nil {
			t.Errorf("unsent message to %s: status=%q attempts=%d locked_until=%v, want pending, untried and released", to, e.Status, e.Attempts, e.LockedUntil)
		}
	}
}
