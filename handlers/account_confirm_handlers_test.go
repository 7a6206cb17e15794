package handlers_test

import (
	"net/http"
	"net/url"
	"testing"

	"canopy/internal/demo"
)

// TestConfirmIdentity: the page asks for the password again and returns to
// the account page it was asked from; a wrong or missing password is
// refused beside the field; a return address off the account's pages is
// replaced by the profile.
func TestConfirmIdentity(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	page := acme + "/account/confirm?next=%2Faccount%2Factivity"
	wantBody(t, b.follow(b.get(page)), "Confirm it’s you", `autocomplete="current-password"`, `value="/account/activity"`)

	for _, tc := range []struct {
		name, password, next string
		status               int
		want                 string
	}{
		{"no password", "", "/account/activity", http.StatusUnprocessableEntity, "Enter your password."},
		{"wrong password", "not-the-password", "/account/activity", http.StatusUnprocessableEntity, "The password is not correct."},
		{"right password", demo.Password, "/account/activity", http.StatusSeeOther, ""},
		{"next off the account", demo.Password, "https://evil.test/", http.StatusSeeOther, ""},
		{"next back to itself", demo.Password, "/account/confirm?next=/x", http.StatusSeeOther, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.submit(page, acme+"/account/confirm", url.Values{"password": {tc.password}, "next": {tc.next}})
			wantStatus(t, r, tc.status)
			if tc.want != "" {
				wantBody(t, r, tc.want)
				return
			}
			want := tc.next
			if tc.name != "right password" {
				want = "/account/profile"
			}
			if r.location != want {
				t.Fatalf("confirmed, then sent to %q, want %q", r.location, want)
			}
		})
	}
}

// TestPasswordChangeIsInTheAccountActivityAndMailed: the change is listed
// on Account → Activity with the address it came from, and the person is
// mailed a notice of it.
func TestPasswordChangeIsInTheAccountActivityAndMailed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	empty := b.follow(b.get(acme + "/account/activity"))
	wantBody(t, empty, "Nothing yet")

	wantStatus(t, b.changePassword(acme, demo.Password, newPassword, newPassword), http.StatusSeeOther)
	wantBody(t, b.follow(b.get(acme+"/account/activity")), "Password changed", "127.0.0.1")

	var notices []string
	a.db.Raw("SELECT subject FROM outbox_emails WHERE to_address = ?", "dave@acme.test").Scan(&notices)
	if len(notices) != 1 || notices[0] != "Canopy: Password changed" {
		t.Fatalf("mailed %q, want one notice of the change", notices)
	}
}
