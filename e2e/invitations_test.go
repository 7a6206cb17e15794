package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestInvitationForSomeoneElse: dave, signed in, opens an invitation meant
// for a newcomer. He is asked first: staying keeps him signed in as dave
// and accepts nothing; signing out ends his session and opens the
// invitation for the newcomer, who joins Acme.
func TestInvitationForSomeoneElse(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	alice := newTab(t, browser, desktop)
	signIn(t, alice, a, "acme", "alice@acme.test")
	wantStatus(t, open(t, alice, a.tenantURL("acme", "/settings/team/new")), http.StatusOK)
	typeInto(t, alice, [][2]string{{"#f-first_name", "Quinn"}, {"#f-last_name", "Ames"}, {"#f-email", "qa-owner@example.com"}})
	if status := clickSubmit(t, alice); status != http.StatusOK {
		t.Fatalf("invite: %d", status)
	}
	msgs, err := a.store.OutboxFor(context.Background(), "qa-owner@example.com")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("invitation emails: %d, %v", len(msgs), err)
	}
	link := linkInMail.FindString(msgs[0].BodyText)

	for _, size := range []viewport{phone, desktop} {
		dave := newTab(t, browser, size)
		signIn(t, dave, a, "acme", "dave@acme.test")
		wantStatus(t, open(t, dave, link), http.StatusOK)
		wantText(t, dave, "This invitation is for someone else", "You are signed in as dave@acme.test",
			"is for qa-owner@example.com", "Sign out and continue", "Stay signed in as dave@acme.test")
		wantNoElement(t, dave, `form[action$="/accept"]`)
		wantNoSideways(t, dave)
		screenshot(t, dave, "invitation-someone-else"+widthSuffix(size)+".png")
		if size == phone {
			continue
		}

		// Stay: still dave, at his company; the invitation is still open.
		if status := clickAndWait(t, dave, "a.stay-signed-in"); status != http.StatusOK {
			t.Fatalf("stay: %d", status)
		}
		wantLocation(t, dave, a.tenantHost("acme"), "/")
		wantText(t, dave, "Dave", "Viewer")
		if _, err := a.store.UserByEmail(context.Background(), "qa-owner@example.com"); err == nil {
			t.Fatal("staying signed in accepted the invitation")
		}

		// Sign out and continue: the invitation, for the newcomer.
		daveUser, err := a.store.UserByEmail(context.Background(), "dave@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		daveID := daveUser.ID
		before, err := a.store.SessionsOf(context.Background(), daveID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, open(t, dave, link), http.StatusOK)
		if status := clickAndWait(t, dave, `.auth-card form button.button-primary`); status != http.StatusOK {
			t.Fatalf("sign out and continue: %d", status)
		}
		wantText(t, dave, "You have been signed out of dave@acme.test", "Join Acme Corp", "qa-owner@example.com")
		screenshot(t, dave, "invitation-after-sign-out.png")
		typeInto(t, dave, [][2]string{{"#f-password", "quinn-password-1"}, {"#f-password_confirm", "quinn-password-1"}})
		if status := clickAndWait(t, dave, `.auth-card form.form button[type="submit"]`); status != http.StatusOK {
			t.Fatalf("accept: %d", status)
		}
		wantLocation(t, dave, a.tenantHost("acme"), "/")
		wantText(t, dave, "Welcome to Acme Corp, Quinn", "Viewer")
		// Dave's session in this browser was ended, on every address it had.
		if left, err := a.store.SessionsOf(context.Background(), daveID, time.Now()); err != nil || len(left) != len(before)-1 {
			t.Fatalf("dave's session was not ended: %d of %d left (%v)", len(left), len(before), err)
		}
	}
}
