package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestInvitationForAnotherAddressAsksBeforeSwitchingAccounts(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	addMember(alice, "acme", person("qa-owner@example.com", "editor"))
	link := a.inbox("qa-owner@example.com")[0]

	dave := a.browser()
	dave.signIn("dave@acme.test", "")
	page := dave.get(link)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "You are signed in as <strong>dave@acme.test</strong>", "is for <strong>qa-owner@example.com</strong>",
		"Sign out and continue", "Stay signed in as dave@acme.test")
	if strings.Contains(page.body, "/accept") || strings.Contains(page.body, `name="password"`) {
		t.Fatal("the page offers to accept for someone else")
	}
	// A crafted acceptance accepts nothing and switches no account.
	crafted := dave.submit(link, link+"/accept", url.Values{"first_name": {"Q"}, "last_name": {"A"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}})
	wantStatus(t, crafted, http.StatusConflict)
	wantBody(t, crafted, "This invitation is for someone else")
	if _, err := a.store.UserByEmail(t.Context(), "qa-owner@example.com"); err == nil {
		t.Fatal("an account was created for the invitee while signed in as dave")
	}
	// A crafted decline records no answer either.
	declined := dave.submit(link, link+"/decline", nil)
	wantStatus(t, declined, http.StatusConflict)
	wantBody(t, declined, "This invitation is for someone else")
	// Stay signed in: dave goes on as dave, and the invitation stays open.
	stay := dave.follow(dave.get(base + "/"))
	wantStatus(t, stay, http.StatusOK)
	wantBody(t, stay, "Dave")
	wantStatus(t, a.browser().get(link), http.StatusOK)

	// Sign out and continue: dave's sessions end, and the invitation opens for its newcomer.
	out := dave.submit(link, base+"/logout", url.Values{"next": {mustParse(t, link).Path}})
	wantStatus(t, out, http.StatusSeeOther)
	if out.location != link {
		t.Fatalf("signing out went to %s, want the invitation %s", out.location, link)
	}
	invitation := dave.follow(out)
	wantBody(t, invitation, "You have been signed out of dave@acme.test", "Join Acme Corp", `name="password"`)
	if r := dave.get(tenantURL("acme", "/")); r.status != http.StatusSeeOther {
		t.Fatalf("dave's session at acme survived signing out: %d", r.status)
	}
	home := dave.follow(dave.submit(link, link+"/accept", url.Values{"first_name": {"Quinn"}, "last_name": {"Ames"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}))
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Welcome to Acme Corp, Quinn")
}

func TestSignOutOnlyContinuesToAnInvitation(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "")
	for _, next := range []string{"/settings/team", "//evil.example/invitations/x", "https://evil.example/invitations/x"} {
		r := dave.submit(base+"/account/password", base+"/logout", url.Values{"next": {next}})
		wantStatus(t, r, http.StatusSeeOther)
		if !strings.HasPrefix(r.location, base+"/login") {
			t.Errorf("signing out with next=%s went to %s", next, r.location)
		}
		dave.signIn("dave@acme.test", "")
	}
}
