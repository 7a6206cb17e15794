package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/models"
)

var resetLink = regexp.MustCompile(`http://localhost:8080/login/reset/([A-Za-z0-9_-]+)`)

// resetLinks are the password reset links mailed to an address, oldest first.
func (a *app) resetLinks(to string) []string {
	a.t.Helper()
	var links []string
	for _, m := range a.mails(to) {
		if l := resetLink.FindString(m.BodyText); l != "" {
			links = append(links, l)
		}
	}
	return links
}

func (a *app) mails(to string) []models.OutboxEmail {
	a.t.Helper()
	msgs, err := a.store.OutboxFor(context.Background(), to)
	if err != nil {
		a.t.Fatal(err)
	}
	return msgs
}

// askReset submits the forgot-password form.
func (b *browser) askReset(email, tenant string) response {
	b.app.t.Helper()
	page := base + "/login/forgot"
	if tenant != "" {
		page += "?tenant=" + tenant
	}
	return b.submit(page, base+"/login/forgot", url.Values{"email": {email}, "tenant": {tenant}})
}

// resetWith chooses a password at a reset link (with the session's CSRF
// token, which the base domain's pages all carry, so a dead link can be
// posted to as well).
func (b *browser) resetWith(link, password string) response {
	b.app.t.Helper()
	return b.submit(base+"/login/forgot", link, url.Values{"new_password": {password}, "confirm_password": {password}})
}

var csrfValue = regexp.MustCompile(`name="_csrf" value="[^"]+"`)

func TestSignInPageLinksToForgotPassword(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	wantBody(t, b.get(base+"/login"), `href="/login/forgot"`, "Forgot your password?")
	wantBody(t, b.get(base+"/login?tenant=acme"), `href="/login/forgot?tenant=acme"`)
	// A company's host sends the form to the base domain, naming it.
	r := b.get(tenantURL("acme", "/login/forgot"))
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != base+"/login/forgot?tenant=acme" {
		t.Fatalf("redirected to %q", r.location)
	}
	wantBody(t, b.follow(r), "Forgot your password?", `name="tenant" value="acme"`)
}

// TestForgotPasswordSameAnswer: a known and an unknown address get the same
// bytes (but the CSRF token, and the address typed, which is the same
// length here), and only the known one gets mail.
func TestForgotPasswordSameAnswer(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	known := a.browser().askReset("dave@acme.test", "")
	unknown := a.browser().askReset("nobody@acme.test", "")
	wantStatus(t, known, http.StatusOK)
	wantStatus(t, unknown, http.StatusOK)
	wantBody(t, known, "If an account exists for")
	k := csrfValue.ReplaceAllString(strings.ReplaceAll(known.body, "dave@acme.test", "EMAIL"), "")
	u := csrfValue.ReplaceAllString(strings.ReplaceAll(unknown.body, "nobody@acme.test", "EMAIL"), "")
	if k != u {
		t.Fatalf("the answers differ:\n%s\n---\n%s", excerpt(k), excerpt(u))
	}
	if links := a.resetLinks("dave@acme.test"); len(links) != 1 {
		t.Fatalf("dave got %d reset links, want 1", len(links))
	}
	if msgs := a.mails("nobody@acme.test"); len(msgs) != 0 {
		t.Fatalf("an unknown address got %d mails", len(msgs))
	}
	// Both did the same work: a row each.
	var rows int64
	a.db.Table("password_resets").Count(&rows)
	if rows != 2 {
		t.Fatalf("%d reset rows, want one per request", rows)
	}
	// An invalid address is told beside the field.
	r := a.browser().askReset("not-an-email", "")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Enter a valid email address")
}

// TestResetPasswordOnce: the link sets a new password once, ends every
// session (a second browser is signed out), signs nobody in, and a notice
// goes to the address.
func TestResetPasswordOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	other := a.browser()
	other.signIn("dave@acme.test", "acme")
	wantStatus(t, other.get(tenantURL("acme", "/orders")), http.StatusOK)

	b := a.browser()
	wantStatus(t, b.askReset("dave@acme.test", ""), http.StatusOK)
	link := a.resetLinks("dave@acme.test")[0]
	form := b.get(link)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Choose a new password", `autocomplete="new-password"`)

	// Two passwords that differ are refused beside the field.
	r := b.submit(link, link, url.Values{"new_password": {"correct horse battery"}, "confirm_password": {"correct horse battery!"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "The two passwords do not match.")

	r = b.resetWith(link, "correct horse battery")
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != base+"/login" {
		t.Fatalf("redirected to %q, want sign-in", r.location)
	}
	wantBody(t, b.follow(r), "Your password has been changed", "Sign in")
	// Not signed in.
	wantStatus(t, b.get(tenantURL("acme", "/orders")), http.StatusSeeOther)
	// The other browser is signed out, and its session is gone from the
	// list (and from the count "Sign out everywhere else" gives).
	var sessions int64
	a.db.Raw("SELECT count(*) FROM user_sessions WHERE user_id = ?", a.user("dave@acme.test").ID).Scan(&sessions)
	if sessions != 0 {
		t.Fatalf("%d session records left after the reset, want none", sessions)
	}
	if r := other.get(tenantURL("acme", "/orders")); r.status != http.StatusSeeOther || !strings.Contains(r.location, "/auth/handoff/begin") {
		t.Fatalf("the other browser got %d %q, want signed out", r.status, r.location)
	}
	// The new password signs in; the old does not.
	fresh := a.browser()
	wantStatus(t, fresh.submit(base+"/login", base+"/login", url.Values{"email": {"dave@acme.test"}, "password": {demo.Password}}), http.StatusUnauthorized)
	wantStatus(t, fresh.submit(base+"/login", base+"/login", url.Values{"email": {"dave@acme.test"}, "password": {"correct horse battery"}}), http.StatusSeeOther)
	// A notice went out, and the reset is in the account's activity.
	var notice bool
	for _, m := range a.mails("dave@acme.test") {
		notice = notice || m.Subject == "Canopy: Password reset from an emailed link"
	}
	if !notice {
		t.Fatal("no notice of the change")
	}
	var recorded int64
	a.db.Raw("SELECT count(*) FROM account_events WHERE action = 'password.reset'").Scan(&recorded)
	if recorded != 1 {
		t.Fatalf("%d password resets in the account activity, want 1", recorded)
	}
	// The link works once.
	r = b.get(link)
	wantStatus(t, r, http.StatusGone)
	wantBody(t, r, "This link no longer works", `href="http://localhost:8080/login/forgot"`)
	wantStatus(t, b.resetWith(link, "another good password"), http.StatusGone)
}

func TestResetLinkExpires(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.askReset("dave@acme.test", "")
	link := a.resetLinks("dave@acme.test")[0]
	a.clock.advance(31 * time.Minute)
	wantStatus(t, b.get(link), http.StatusGone)
	wantStatus(t, b.resetWith(link, "correct horse battery"), http.StatusGone)
}

// TestResetLinkVoided: a newer link voids the older, and a password change
// voids any link.
func TestResetLinkVoided(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.askReset("dave@acme.test", "")
	b.askReset("dave@acme.test", "")
	links := a.resetLinks("dave@acme.test")
	if len(links) != 2 {
		t.Fatalf("%d links", len(links))
	}
	wantStatus(t, b.get(links[0]), http.StatusGone)
	wantStatus(t, b.get(links[1]), http.StatusOK)

	// dave changes his password while signed in: the link dies.
	signedIn := a.browser()
	signedIn.signIn("dave@acme.test", "acme")
	wantStatus(t, signedIn.changePassword(tenantURL("acme", ""), demo.Password, newPassword, newPassword), http.StatusSeeOther)
	wantStatus(t, b.get(links[1]), http.StatusGone)
	wantStatus(t, b.resetWith(links[1], "correct horse battery"), http.StatusGone)
	if hash := a.passwordHash("dave@acme.test"); hash == "" {
		t.Fatal("no password")
	}
}

// TestForgotPasswordRateLimit: past three mails an hour to one address the
// answer stays the same and mail stops; sign-in still works; an hour later
// mail comes again. Past twenty requests an hour from one address,
// nothing more is mailed to anyone.
func TestForgotPasswordRateLimit(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	first := b.askReset("dave@acme.test", "")
	for range 4 {
		r := b.askReset("dave@acme.test", "")
		wantStatus(t, r, http.StatusOK)
		if csrfValue.ReplaceAllString(r.body, "") != csrfValue.ReplaceAllString(first.body, "") {
			t.Fatal("a limited request answered differently")
		}
	}
	if n := len(a.resetLinks("dave@acme.test")); n != models.PasswordResetsPerEmail {
		t.Fatalf("%d links, want %d", n, models.PasswordResetsPerEmail)
	}
	wantStatus(t, a.browser().signIn("dave@acme.test", "acme"), http.StatusOK)
	a.clock.advance(61 * time.Minute)
	b.askReset("dave@acme.test", "")
	if n := len(a.resetLinks("dave@acme.test")); n != models.PasswordResetsPerEmail+1 {
		t.Fatalf("%d links an hour later", n)
	}

	// Per client address: 20 requests an hour, then no mail to anyone.
	for i := range models.PasswordResetsPerAddress {
		b.askReset("nobody"+string(rune('a'+i))+"@acme.test", "")
	}
	b.askReset("carol@initech.test", "")
	if n := len(a.resetLinks("carol@initech.test")); n != 0 {
		t.Fatalf("carol got %d links past the address's limit", n)
	}
}

// TestForgotPasswordSSORequired: the form of a company whose required
// single sign-on covers the address's domain sends to the identity
// provider, whether or not the account exists, and mails nothing.
func TestForgotPasswordSSORequired(t *testing.T) {
	t.Parallel()
	a := requireAcmeSSO(t)
	known := a.browser().askReset("dave@acme.test", "acme")
	unknown := a.browser().askReset("nobody@acme.test", "acme")
	for _, r := range []response{known, unknown} {
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "Use single sign-on", "Acme Corp asks people at <strong>acme.test</strong>", "Sign in with SSO")
	}
	if n := len(a.resetLinks("dave@acme.test")); n != 0 {
		t.Fatalf("dave got %d links", n)
	}
	// Other domains, and the form without a company, go on as usual.
	wantBody(t, a.browser().askReset("bob@globex.test", "acme"), "If an account exists for")
	wantBody(t, a.browser().askReset("dave@acme.test", ""), "If an account exists for")
}

// requireAcmeSSO is the demo data with Acme's single sign-on (demo.SeedSSO)
// required for acme.test.
func requireAcmeSSO(t *testing.T) *app {
	t.Helper()
	a, _ := newSSOApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	err := a.store.Within(ctx, models.Scope{TenantID: acme.ID}, func(ctx context.Context, tx *models.Store) error {
		conn, err := tx.SSOConnectionOf(ctx, acme.ID)
		if err != nil {
			return err
		}
		_, err = tx.SaveSSOConnection(ctx, acme.ID, models.SSOConnectionInput{Issuer: conn.Issuer, ClientID: conn.ClientID,
			Domains: "acme.test", JoinRole: conn.JoinRole, Required: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
