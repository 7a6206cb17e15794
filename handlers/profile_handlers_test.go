package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/models"
	"canopy/views"
)

var emailConfirmLink = regexp.MustCompile(`http://localhost:8080/account/email/confirm/([A-Za-z0-9_-]+)`)

// emailConfirmLinks are the email confirmation links mailed to an address.
func (a *app) emailConfirmLinks(to string) []string {
	a.t.Helper()
	var links []string
	for _, m := range a.mails(to) {
		if l := emailConfirmLink.FindString(m.BodyText); l != "" {
			links = append(links, l)
		}
	}
	return links
}

func (b *browser) profileSubmit(host, action string, form url.Values) response {
	b.app.t.Helper()
	return b.submit(host+"/account/profile", host+"/account/profile"+action, form)
}

func TestUserMenuLinksToProfile(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	home := b.signIn("dave@acme.test", "acme")
	wantBody(t, home, `href="/account/profile"`, "Profile")
	page := b.get(tenantURL("acme", "/account/profile"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Profile", "dave@acme.test", "Acme Corp", "Viewer", "Company&#39;s time zone (default: ")
	// On the base domain too; a visitor is sent to sign in.
	wantStatus(t, b.get(base+"/account/profile"), http.StatusOK)
	wantStatus(t, a.browser().get(base+"/account/profile"), http.StatusSeeOther)
}

func TestProfileSavesName(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	r := b.profileSubmit(acme, "/name", url.Values{"first_name": {""}, "last_name": {"Stone"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Enter a first name.", `value="Stone"`)
	r = b.profileSubmit(acme, "/name", url.Values{"first_name": {"  David "}, "last_name": {"Stone"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), "Your name has been saved.", "David Stone")
	if u := a.user("dave@acme.test"); u.FirstName != "David" || u.LastName != "Stone" {
		t.Fatalf("saved %q %q", u.FirstName, u.LastName)
	}
}

// TestProfileEmailChange: the link goes to the new address, a notice to the
// old; the email changes only when the person opens it signed in and
// confirms; the link works once.
func TestProfileEmailChange(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	r := b.profileSubmit(base, "/email", url.Values{"email": {"Dave.New@Example.org"}})
	wantStatus(t, r, http.StatusSeeOther)
	page := b.follow(r)
	wantBody(t, page, "We sent a link to dave.new@example.org", "Waiting for confirmation", "dave.new@example.org", "Cancel")
	links := a.emailConfirmLinks("dave.new@example.org")
	if len(links) != 1 {
		t.Fatalf("%d links to the new address", len(links))
	}
	var notice bool
	for _, m := range a.mails("dave@acme.test") {
		notice = notice || strings.Contains(m.BodyText, "to dave.new@example.org")
	}
	if !notice {
		t.Fatal("no notice to the old address")
	}
	if u := a.user("dave@acme.test"); u.Email != "dave@acme.test" {
		t.Fatal("changed before confirmation")
	}

	// Not signed in: asked to sign in first, then brought back to the
	// link; nothing changes until the person confirms.
	visitor := a.browser()
	wantBody(t, visitor.get(links[0]), "Sign in to confirm")
	back := visitor.submit(base+"/login?next="+url.QueryEscape(strings.TrimPrefix(links[0], base)), base+"/login",
		url.Values{"email": {"dave@acme.test"}, "password": {demo.Password}, "next": {strings.TrimPrefix(links[0], base)}})
	if back.status != http.StatusSeeOther || base+back.location != links[0] {
		t.Fatalf("signed in, then sent to %d %q, want back to the link %s", back.status, back.location, links[0])
	}
	wantBody(t, visitor.follow(back), "Confirm your new email")
	// Someone else, signed in: the link is not theirs.
	carol := a.browser()
	carol.signIn("carol@initech.test", "")
	wantStatus(t, carol.get(links[0]), http.StatusGone)
	wantStatus(t, carol.submit(base+"/account/profile", links[0], nil), http.StatusGone)

	confirm := b.get(links[0])
	wantStatus(t, confirm, http.StatusOK)
	wantBody(t, confirm, "Confirm your new email", "dave.new@example.org")
	r = b.submit(links[0], links[0], nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), "Your email is now dave.new@example.org")
	if _, err := a.store.UserByEmail(context.Background(), "dave.new@example.org"); err != nil {
		t.Fatal(err)
	}
	// The old address is told, and the change is in the account's activity.
	var told bool
	for _, m := range a.mails("dave@acme.test") {
		told = told || m.Subject == "Canopy: Email address changed" && strings.Contains(m.BodyText, "dave@acme.test → dave.new@example.org")
	}
	if !told {
		t.Fatal("the old address was not told of the change")
	}
	wantBody(t, b.follow(b.get(base+"/account/activity")), "Email address changed", "dave@acme.test → dave.new@example.org")
	// Still signed in; the link works once.
	wantStatus(t, b.get(links[0]), http.StatusGone)
	wantStatus(t, b.submit(base+"/account/profile", links[0], nil), http.StatusGone)
	// The new address signs in.
	wantStatus(t, a.browser().signIn("dave.new@example.org", "acme"), http.StatusOK)
}

// TestProfileEmailRefusals: a taken address, the current one and one a
// required single sign-on covers are refused beside the field; a change
// taken meanwhile by another account is refused by the unique index; a
// cancelled or expired or replaced link does not work.
func TestProfileEmailRefusals(t *testing.T) {
	t.Parallel()
	a := requireAcmeSSO(t)
	b := a.browser()
	b.signIn("carol@initech.test", "")
	for email, want := range map[string]string{
		"bob@globex.test":    "Another account already uses this address.",
		"carol@initech.test": "This is already your email address.",
		"carol@acme.test":    "sign in with their company&#39;s single sign-on",
		"nope":               "Enter a valid email address",
	} {
		r := b.profileSubmit(base, "/email", url.Values{"email": {email}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, want)
	}

	// Taken meanwhile: the unique index answers, beside the field.
	wantStatus(t, b.profileSubmit(base, "/email", url.Values{"email": {"taken@example.org"}}), http.StatusSeeOther)
	link := a.emailConfirmLinks("taken@example.org")[0]
	if _, err := a.store.CreateUser(context.Background(), models.NewUser{Email: "taken@example.org", FirstName: "T", Password: "a long enough password"}); err != nil {
		t.Fatal(err)
	}
	r := b.submit(link, link, nil)
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "Another account already uses this address. Your email was not changed.")

	// A newer request replaces the link; cancelling voids it.
	wantStatus(t, b.profileSubmit(base, "/email", url.Values{"email": {"c2@example.org"}}), http.StatusSeeOther)
	wantStatus(t, b.get(link), http.StatusGone)
	newer := a.emailConfirmLinks("c2@example.org")[0]
	wantStatus(t, b.get(newer), http.StatusOK)
	r = b.profileSubmit(base, "/email/cancel", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), "The change of email was cancelled.")
	wantStatus(t, b.get(newer), http.StatusGone)

	// Expired after a day.
	wantStatus(t, b.profileSubmit(base, "/email", url.Values{"email": {"c3@example.org"}}), http.StatusSeeOther)
	a.clock.advance(25 * time.Hour)
	wantStatus(t, b.get(a.emailConfirmLinks("c3@example.org")[0]), http.StatusGone)
	if u := a.user("carol@initech.test"); u.Email != "carol@initech.test" {
		t.Fatalf("email is %s", u.Email)
	}
}

// TestProfileTimeZoneApplies: dates on a page follow the person's zone
// over the company's.
func TestProfileTimeZoneApplies(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	acme := tenantURL("acme", "")
	wantStatus(t, b.profileSubmit(acme, "/time-zone", url.Values{"time_zone": {"Mars/Olympus"}}), http.StatusUnprocessableEntity)
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		r := b.profileSubmit(acme, "/time-zone", url.Values{"time_zone": {zone}})
		wantStatus(t, r, http.StatusSeeOther)
		wantBody(t, b.follow(r), "Times are shown in "+zone)
		if got := a.user("alice@acme.test").TimeZone; got != zone {
			t.Fatalf("saved %q", got)
		}
		loc, _ := time.LoadLocation(zone)
		page := b.get(acme + "/sub-tenants")
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, views.FormatTime(a.tenant("acme-eu").CreatedAt, loc))
	}
	wantStatus(t, b.profileSubmit(acme, "/time-zone", url.Values{"time_zone": {""}}), http.StatusSeeOther)
	if got := a.user("alice@acme.test").TimeZone; got != "" {
		t.Fatalf("saved %q, want the company's", got)
	}
}

// TestProfileLeavesACompany: Leave on the profile is the Companies page's
// action, back to the profile; the owner has no Leave.
func TestProfileLeavesACompany(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	page := b.get(base + "/account/profile")
	wantBody(t, page, "Globex", "Editor", "Initech", "You own it")
	globex := a.tenant("globex")
	leave := "/companies/" + strconv.FormatInt(globex.ID, 10) + "/leave"
	if !strings.Contains(page.body, `action="`+leave+`"`) || !strings.Contains(page.body, `data-confirm="Leave Globex?`) {
		t.Fatal("no Leave for Globex, asked first")
	}
	r := b.submit(base+"/account/profile", base+leave, url.Values{"next": {"/account/profile"}})
	wantStatus(t, r, http.StatusSeeOther)
	after := b.follow(r)
	wantBody(t, after, "You left Globex")
	if strings.Contains(after.body, `action="`+leave+`"`) {
		t.Fatal("Globex is still listed")
	}
}

// TestProfileEmailChangeAsksToConfirmItIsYou: changing the email decides
// where password resets go, so a browser signed in long ago (a session
// left open, a stolen cookie) must prove it is the person first, as
// adding a passkey or a second factor does; otherwise it could send the
// account's resets to an address of its own and take the account over.
func TestProfileEmailChangeAsksToConfirmItIsYou(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	a.clock.advance(11 * time.Minute)

	r := b.profileSubmit(base, "/email", url.Values{"email": {"mallory@evil.example"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/account/confirm?next=%2Faccount%2Fprofile" {
		t.Fatalf("an email change without a recent confirmation went to %q", r.location)
	}
	if links := a.emailConfirmLinks("mallory@evil.example"); len(links) != 0 {
		t.Fatalf("a link went to the new address without a confirmation: %v", links)
	}

	r = b.submit(base+r.location, base+"/account/confirm", url.Values{"password": {demo.Password}, "next": {"/account/profile"}})
	if r.location != "/account/profile" {
		t.Fatalf("confirmed, then sent to %q", r.location)
	}
	wantStatus(t, b.profileSubmit(base, "/email", url.Values{"email": {"dave.new@example.org"}}), http.StatusSeeOther)
	if links := a.emailConfirmLinks("dave.new@example.org"); len(links) != 1 {
		t.Fatalf("%d links to the new address after confirming", len(links))
	}
}
