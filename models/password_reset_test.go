package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"canopy/models"
)

func resetRequest(email, address, hash string, now time.Time) models.PasswordResetRequest {
	return models.PasswordResetRequest{Email: email, EmailKey: "key:" + models.CanonicalEmail(email), Address: address, TokenHash: hash, Now: now}
}

func TestPasswordResetLifecycle(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	clock := now
	w.store.SetNowForTest(func() time.Time { return clock })

	// Unknown and known addresses both write a row; only the known is mailed.
	_, unknownHash := models.NewResetToken()
	if sent, err := w.store.RequestPasswordReset(ctx, resetRequest("nobody@acme.test", "192.0.2.1", unknownHash, now), models.NewEmail{Subject: "s", Body: "b"}); err != nil || sent {
		t.Fatalf("unknown address: sent %v, %v", sent, err)
	}
	if ok, _ := w.store.PasswordResetValid(ctx, unknownHash, now); ok {
		t.Fatal("an unknown address's token works")
	}
	token, hash := models.NewResetToken()
	if models.HashResetToken(token) != hash || len(token) < 22 {
		t.Fatalf("token %q", token)
	}
	if sent, err := w.store.RequestPasswordReset(ctx, resetRequest("Alice@Acme.test", "192.0.2.1", hash, now), models.NewEmail{Subject: "s", Body: "b"}); err != nil || !sent {
		t.Fatalf("known address: sent %v, %v", sent, err)
	}
	if mails, _ := w.store.OutboxFor(ctx, "alice@acme.test"); len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	if ok, err := w.store.PasswordResetValid(ctx, hash, now); !ok || err != nil {
		t.Fatalf("fresh link: %v, %v", ok, err)
	}
	if ok, _ := w.store.PasswordResetValid(ctx, hash, now.Add(models.PasswordResetLifetime+time.Second)); ok {
		t.Fatal("an expired link works")
	}

	// A weak password is refused beside the field, and the link still works.
	_, err := w.store.ResetPassword(ctx, models.PasswordReset{TokenHash: hash, New: "short", Confirm: "short", Now: now}, noticeFor)
	if fieldError(err, "new_password") == "" {
		t.Fatalf("weak password: %v", err)
	}
	before := w.alice.SessionVersion
	u, err := w.store.ResetPassword(ctx, models.PasswordReset{TokenHash: hash, New: "a new long password", Confirm: "a new long password", Now: now}, noticeFor)
	if err != nil {
		t.Fatal(err)
	}
	if u.ID != w.alice.ID || u.SessionVersion != before+1 {
		t.Fatalf("reset %d, session version %d → %d", u.ID, before, u.SessionVersion)
	}
	if _, err := w.store.Authenticate(ctx, "alice@acme.test", "a new long password"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if _, err := w.store.ResetPassword(ctx, models.PasswordReset{TokenHash: hash, New: "another long password", Confirm: "another long password", Now: now}, noticeFor); !errors.Is(err, models.ErrResetLinkInvalid) {
		t.Fatalf("second use: %v", err)
	}
}

func noticeFor(u *models.User) models.NewEmail {
	return models.NewEmail{To: u.Email, Subject: "changed", Body: "changed"}
}

func TestPasswordResetLimitsAndVoiding(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	now := time.Now()
	var hashes []string
	for i := range models.PasswordResetsPerEmail + 1 {
		_, hash := models.NewResetToken()
		hashes = append(hashes, hash)
		sent, err := w.store.RequestPasswordReset(ctx, resetRequest("alice@acme.test", "192.0.2.1", hash, now.Add(time.Duration(i)*time.Second)), models.NewEmail{Subject: "s", Body: "b"})
		if err != nil || sent != (i < models.PasswordResetsPerEmail) {
			t.Fatalf("request %d: sent %v, %v", i, sent, err)
		}
	}
	// Only the latest mailed link works; the limited one never does.
	for i, hash := range hashes {
		ok, _ := w.store.PasswordResetValid(ctx, hash, now.Add(time.Minute))
		if ok != (i == models.PasswordResetsPerEmail-1) {
			t.Errorf("link %d works: %v", i, ok)
		}
	}
	// A password change voids it.
	if _, err := w.store.ChangePassword(ctx, w.alice.ID, models.PasswordChange{Current: "a-long-password", New: "another-long-password", Confirm: "another-long-password"}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.store.PasswordResetValid(ctx, hashes[models.PasswordResetsPerEmail-1], now.Add(time.Minute)); ok {
		t.Fatal("a link works after a password change")
	}
}

func TestProfileModel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if err := w.store.UpdateName(ctx, w.alice.ID, " Alice ", ""); err != nil {
		t.Fatal(err)
	}
	if fieldError(w.store.UpdateName(ctx, w.alice.ID, "", "X"), "first_name") == "" {
		t.Fatal("an empty first name was saved")
	}
	if fieldError(w.store.SetTimeZone(ctx, w.alice.ID, "Nowhere/City"), "time_zone") == "" {
		t.Fatal("an unknown zone was saved")
	}
	if err := w.store.SetTimeZone(ctx, w.alice.ID, "Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	u, _ := w.store.UserByID(ctx, w.alice.ID)
	if u.FirstName != "Alice" || u.Location() == nil || u.Location().String() != "Asia/Tokyo" {
		t.Fatalf("saved %q, %v", u.FirstName, u.Location())
	}

	// An email change: pending until confirmed with its token, once.
	now := time.Now()
	mustUser(t, w.store, "bob@globex.test")
	if fieldError(w.store.RequestEmailChange(ctx, models.EmailChangeRequest{User: u, NewEmail: "bob@globex.test", TokenHash: hash64("a"), Now: now}, noMails), "email") == "" {
		t.Fatal("a taken address was accepted")
	}
	if err := w.store.RequestEmailChange(ctx, models.EmailChangeRequest{User: u, NewEmail: "alice@new.test", TokenHash: hash64("a"), Now: now}, noMails); err != nil {
		t.Fatal(err)
	}
	if p, _ := w.store.PendingEmailChange(ctx, u.ID, now); p == nil || p.NewEmail != "alice@new.test" {
		t.Fatalf("pending %+v", p)
	}
	if _, err := w.store.ConfirmEmailChange(ctx, u.ID, hash64("b"), now); !errors.Is(err, models.ErrEmailChangeInvalid) {
		t.Fatalf("wrong token: %v", err)
	}
	changed, err := w.store.ConfirmEmailChange(ctx, u.ID, hash64("a"), now)
	if err != nil || changed.Email != "alice@new.test" {
		t.Fatalf("confirmed: %v, %v", changed, err)
	}
	if _, err := w.store.ConfirmEmailChange(ctx, u.ID, hash64("a"), now); !errors.Is(err, models.ErrEmailChangeInvalid) {
		t.Fatalf("second use: %v", err)
	}
}

func noMails(string) []models.NewEmail { return nil }

func hash64(c string) string {
	out := make([]byte, 64)
	for i := range out {
		out[i] = c[0]
	}
	return string(out)
}
