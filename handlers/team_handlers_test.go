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

	"canopy/models"
)

var invitationLink = regexp.MustCompile(`http://localhost:8080/invitations/([A-Za-z0-9_-]+)`)

// inbox returns the invitation links emailed to an address, oldest first.
func (a *app) inbox(to string) []string {
	a.t.Helper()
	msgs, err := a.store.OutboxFor(context.Background(), to)
	if err != nil {
		a.t.Fatal(err)
	}
	var links []string
	for _, m := range msgs {
		if l := invitationLink.FindString(m.BodyText); l != "" {
			links = append(links, l)
		}
	}
	return links
}

func addMember(b *browser, sub string, form url.Values) response {
	b.app.t.Helper()
	return b.submit(tenantURL(sub, "/settings/team/new"), tenantURL(sub, "/settings/team"), form)
}

func person(email, role string) url.Values {
	return url.Values{"first_name": {"Pat"}, "last_name": {"Lee"}, "email": {email}, "role": {role}}
}

func TestAddingAnActiveUserMakesThemAMemberWithoutEmail(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := addMember(alice, "acme", person("Carol@Initech.test", "editor"))
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "carol@initech.test already has a Canopy account and is now a member of Acme Corp")
	if links := a.inbox("carol@initech.test"); len(links) != 0 {
		t.Fatalf("an active user was emailed: %v", links)
	}
	// Acme appears in carol's toggle and she can enter it without a password.
	carol := a.browser()
	home := carol.signIn("carol@initech.test", "")
	wantBody(t, home, `class="menu company-toggle"`, "Acme Corp", "alice@acme.test")
	wantBody(t, carol.follow(carol.get(tenantURL("acme", "/"))), "Welcome to Acme Corp, Carol", "Editor")
}

func TestInvitedNewcomerAcceptsAndLandsSignedIn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := addMember(alice, "acme", person("newbie@example.com", "editor"))
	wantBody(t, alice.follow(r), "Invitation sent to newbie@example.com", "Invited")
	links := a.inbox("newbie@example.com")
	if len(links) != 1 {
		t.Fatalf("emails with a link: %v", links)
	}
	newbie := a.browser()
	page := newbie.get(links[0])
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Join Acme Corp", "Editor", "newbie@example.com", `value="Pat"`)
	mismatch := newbie.submit(links[0], links[0]+"/accept", url.Values{"first_name": {"Pat"}, "password": {"a-good-password"}, "password_confirm": {"another-one"}})
	wantStatus(t, mismatch, http.StatusUnprocessableEntity)
	wantBody(t, mismatch, "The two passwords do not match.")
	home := newbie.follow(newbie.submit(links[0], links[0]+"/accept", url.Values{"first_name": {"Pat"}, "last_name": {"Lee"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}))
	wantStatus(t, home, http.StatusOK)
	if host := mustParse(t, home.url).Host; host != "acme.localhost:8080" {
		t.Fatalf("landed on %s", home.url)
	}
	wantBody(t, home, "Welcome to Acme Corp, Pat", "Editor")
	// The link works once.
	again := a.browser().get(links[0])
	wantStatus(t, again, http.StatusGone)
	wantBody(t, again, "already been answered")
	// The team list shows them as an active member now.
	wantBody(t, alice.get(tenantURL("acme", "/settings/team?q=newbie")), "newbie@example.com", "Active")
}

func TestInvitationLinksSayWhyTheyFail(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	for _, email := range []string{"late@example.com", "gone@example.com", "no@example.com"} {
		addMember(alice, "acme", person(email, "viewer"))
	}
	// Expired.
	if err := a.db.Exec("UPDATE invitations SET expires_at = ? WHERE email = ?", time.Now().UTC().Add(-time.Hour), "late@example.com").Error; err != nil {
		t.Fatal(err)
	}
	expired := a.browser().get(a.inbox("late@example.com")[0])
	wantStatus(t, expired, http.StatusGone)
	wantBody(t, expired, "This invitation has expired")
	// Revoked from the team list.
	var invitationID int64
	a.db.Raw("SELECT id FROM invitations WHERE email = ?", "gone@example.com").Scan(&invitationID)
	revoke := alice.submit(tenantURL("acme", "/settings/team"), tenantURL("acme", "/settings/team/invitations/"+strconv.FormatInt(invitationID, 10)+"/revoke"), nil)
	wantBody(t, alice.follow(revoke), "Invitation revoked")
	wantBody(t, a.browser().get(a.inbox("gone@example.com")[0]), "This invitation was withdrawn")
	// Declined: recorded, shown on the team list, and the next invitation is emailed again.
	link := a.inbox("no@example.com")[0]
	declined := a.browser().submit(link, link+"/decline", nil)
	wantStatus(t, declined, http.StatusOK)
	wantBody(t, declined, "Invitation declined")
	wantBody(t, alice.get(tenantURL("acme", "/settings/team?q=no@example")), "Declined", "Invite again")
	addMember(alice, "acme", person("no@example.com", "viewer"))
	if n := len(a.inbox("no@example.com")); n != 2 {
		t.Fatalf("re-inviting someone who declined sent %d emails in all, want 2", n)
	}
	wantStatus(t, a.browser().get("http://localhost:8080/invitations/not-a-real-token"), http.StatusNotFound)
}

func TestResendReplacesTheLink(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	addMember(alice, "acme", person("resend@example.com", "viewer"))
	var id int64
	a.db.Raw("SELECT id FROM invitations WHERE email = ?", "resend@example.com").Scan(&id)
	r := alice.submit(tenantURL("acme", "/settings/team"), tenantURL("acme", "/settings/team/invitations/"+strconv.FormatInt(id, 10)+"/resend"), nil)
	wantBody(t, alice.follow(r), "Invitation sent again")
	links := a.inbox("resend@example.com")
	if len(links) != 2 || links[0] == links[1] {
		t.Fatalf("links %v", links)
	}
	wantStatus(t, a.browser().get(links[0]), http.StatusNotFound)
	wantStatus(t, a.browser().get(links[1]), http.StatusOK)
}

func TestDoubleSubmittedInvitationLeavesOne(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	token := alice.csrf(tenantURL("acme", "/settings/team/new"))
	form := person("twice@example.com", "viewer")
	form.Set("_csrf", token)
	first := alice.post(tenantURL("acme", "/settings/team"), form)
	second := alice.post(tenantURL("acme", "/settings/team"), form)
	wantStatus(t, first, http.StatusSeeOther)
	wantStatus(t, second, http.StatusUnprocessableEntity)
	wantBody(t, second, "already has an open invitation")
	if n := len(a.inbox("twice@example.com")); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
}

func TestTeamRulesRefuseAndWriteNothing(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.browser() // Admin of Acme
	bob.signIn("bob@globex.test", "acme")
	dave := a.browser() // Viewer of Acme
	dave.signIn("dave@acme.test", "acme")
	acme := a.tenant("acme")
	member := func(email string) string {
		m, err := a.store.MembershipOf(context.Background(), acme.ID, a.user(email).ID)
		if err != nil {
			t.Fatal(err)
		}
		return strconv.FormatInt(m.ID, 10)
	}
	globexMember, _ := a.store.MembershipOf(context.Background(), a.tenant("globex").ID, a.user("alice@acme.test").ID)
	team := tenantURL("acme", "/settings/team")
	cases := []struct {
		name   string
		who    *browser
		action string
		form   url.Values
		status int
		text   string
	}{
		{"viewer adds a member", dave, "/settings/team", person("x@example.com", "viewer"), 403, "permission"},
		{"admin grants super admin", bob, "/settings/team", person("x@example.com", "super_admin"), 422, "only Super Admins grant Super Admin"},
		{"unknown role", bob, "/settings/team", person("x@example.com", "owner"), 422, "Choose a role"},
		{"bad email", bob, "/settings/team", person("not-an-email", "viewer"), 422, "valid email"},
		{"template of another company", bob, "/settings/team", func() url.Values { f := person("x@example.com", "viewer"); f.Add("templates", "999999"); return f }(), 422, "Choose templates"},
		{"admin demotes the owner", bob, "/settings/team/members/" + member("alice@acme.test") + "/edit", url.Values{"role": {"viewer"}}, 403, "owner"},
		{"admin removes the owner", bob, "/settings/team/members/" + member("alice@acme.test") + "/remove", nil, 403, "owner"},
		{"admin raises viewer to super admin", bob, "/settings/team/members/" + member("dave@acme.test") + "/edit", url.Values{"role": {"super_admin"}}, 403, "only Super Admins"},
		{"admin changes own role", bob, "/settings/team/members/" + member("bob@globex.test") + "/edit", url.Values{"role": {"viewer"}}, 403, "your own role"},
		{"viewer removes someone", dave, "/settings/team/members/" + member("bob@globex.test") + "/remove", nil, 403, "permission"},
		{"member id of another company", bob, "/settings/team/members/" + strconv.FormatInt(globexMember.ID, 10) + "/remove", nil, 404, "Page not found"},
		{"no CSRF token (forged invitation)", bob, "", person("x@example.com", "viewer"), 403, "This form has expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r response
			if c.action == "" {
				r = c.who.post(team, c.form) // no _csrf field
			} else {
				r = c.who.submit(team, tenantURL("acme", c.action), c.form)
			}
			wantStatus(t, r, c.status)
			wantBody(t, r, c.text)
		})
	}
	// Nothing was written: same members, same roles, no invitation, no email.
	page, _ := a.store.Team(context.Background(), acme.ID, "", models.ParsePage("", 50))
	if page.Total != 3 {
		t.Fatalf("team has %d rows, want the 3 demo members", page.Total)
	}
	if m, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("alice@acme.test").ID); m.Role != models.RoleSuperAdmin {
		t.Fatal("owner demoted")
	}
	if n := len(a.inbox("x@example.com")); n != 0 {
		t.Fatalf("%d emails sent by refused requests", n)
	}
	if _, err := a.store.MembershipOf(context.Background(), a.tenant("globex").ID, a.user("alice@acme.test").ID); err != nil {
		t.Fatal("a member of another company was removed")
	}
}

func TestAdminManagesMembers(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	acme := a.tenant("acme")
	dave, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("dave@acme.test").ID)
	id := strconv.FormatInt(dave.ID, 10)
	r := bob.submit(tenantURL("acme", "/settings/team"), tenantURL("acme", "/settings/team/members/"+id+"/edit"), url.Values{"role": {"editor"}})
	wantBody(t, bob.follow(r), "Dave Davis is an Editor and may order from every template.")
	if m, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("dave@acme.test").ID); m.Role != models.RoleEditor {
		t.Fatalf("role %s", m.Role)
	}
	daveBrowser := a.browser()
	daveBrowser.signIn("dave@acme.test", "acme")
	r = bob.submit(tenantURL("acme", "/settings/team"), tenantURL("acme", "/settings/team/members/"+id+"/remove"), nil)
	wantBody(t, bob.follow(r), "Member removed")
	// Dave's open session is refused on his next request.
	wantStatus(t, daveBrowser.get(tenantURL("acme", "/")), http.StatusForbidden)
}

func TestTeamListSearchAndVisibility(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	all := dave.get(tenantURL("acme", "/settings/team"))
	wantStatus(t, all, http.StatusOK)
	wantBody(t, all, "alice@acme.test", "bob@globex.test", "dave@acme.test", "Owner")
	// A viewer sees the team but no way to change it.
	for _, hidden := range []string{"Add member", "/edit\"", "Remove", "Resend"} {
		if strings.Contains(all.body, hidden) {
			t.Errorf("viewer sees %q", hidden)
		}
	}
	found := tableOf(dave.get(tenantURL("acme", "/settings/team?q=BOB")))
	if !strings.Contains(found, "bob@globex.test") || strings.Contains(found, "dave@acme.test") {
		t.Errorf("search for BOB listed:\n%s", found)
	}
	// Members of other companies never appear (carol is in Initech).
	if strings.Contains(all.body, "carol@initech.test") {
		t.Error("a member of another company is listed")
	}
	wantBody(t, dave.get(tenantURL("acme", "/settings/team?q=zzz")), "No one matches")
	wantBody(t, dave.get(tenantURL("acme", "/settings/team?q=%25")), "No one matches") // LIKE wildcards are literal
}

func TestCompanyToggle(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	home := alice.signIn("alice@acme.test", "acme")
	wantBody(t, home, `class="menu company-toggle"`, "3 companies",
		"Acme Corp", "3 members · alice@acme.test",
		"Globex", "2 members · bob@globex.test",
		"Initech", "2 members · carol@initech.test",
		`href="/go/globex"`)
	// Choosing Globex reloads in Globex, at its own subdomain, with no password.
	globex := alice.follow(alice.get(tenantURL("acme", "/go/globex")))
	wantStatus(t, globex, http.StatusOK)
	if host := mustParse(t, globex.url).Host; host != "globex.localhost:8080" {
		t.Fatalf("switched to %s", globex.url)
	}
	// One company: no toggle.
	dave := a.browser()
	if strings.Contains(dave.signIn("dave@acme.test", "acme").body, "company-toggle") {
		t.Fatal("dave, with one company, sees a toggle")
	}
	// Removed access: gone from the list at once, and its pages deny.
	initech := a.tenant("initech")
	if err := a.store.RemoveMember(context.Background(), initech.ID, a.user("alice@acme.test").ID); err != nil {
		t.Fatal(err)
	}
	after := alice.get(tenantURL("acme", "/"))
	if strings.Contains(after.body, "carol@initech.test") {
		t.Fatal("Initech still in the toggle after removal")
	}
	wantBody(t, after, "2 companies")
	wantStatus(t, alice.follow(alice.get(tenantURL("acme", "/go/initech"))), http.StatusForbidden)
}

func TestCompanyTileOnAddMember(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	page := bob.get(tenantURL("acme", "/settings/team/new"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `class="company-tile"`, "Acme Corp", "alice@acme.test", "Available orders")
	if strings.Contains(page.body, `class="sidebar"`) {
		t.Fatal("Add member has the side menu")
	}
	// Bob is an Admin: he is not offered Super Admin.
	if strings.Contains(page.body, `value="super_admin"`) {
		t.Fatal("an Admin is offered Super Admin")
	}
}

// tableOf is the table body of a list page, without the menus around it.
func tableOf(r response) string {
	start := strings.Index(r.body, "<tbody>")
	end := strings.Index(r.body, "</tbody>")
	if start < 0 || end < start {
		return ""
	}
	return r.body[start:end]
}

func TestSetupChecklistFromRealData(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser() // Acme Europe: only its owner, no templates
	home := eve.signIn("eve@acme.test", "acme-eu")
	wantBody(t, home, "Finish setting up your company", "Add your team members", "Request production keys",
		"Set up templates with your company name", "Create webhooks")
	if strings.Contains(home.body, "setup-item is-done") {
		t.Fatal("an empty company shows setup steps as done")
	}
	// Acme has members and branded templates: those two steps are ticked.
	alice := a.browser()
	acme := alice.signIn("alice@acme.test", "acme")
	if n := strings.Count(acme.body, "setup-item is-done"); n != 2 {
		t.Fatalf("%d steps ticked for Acme, want 2 (team, templates)", n)
	}
	// A viewer is not asked to set up the company.
	dave := a.browser()
	if strings.Contains(dave.signIn("dave@acme.test", "acme").body, "Finish setting up") {
		t.Fatal("a viewer sees the setup checklist")
	}
}

func TestSwitchingKeepsOnlyCommonSections(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	alice.signIn("alice@acme.test", "globex")
	cases := map[string]string{
		"/orders?q=x":          "/orders",
		"/settings/team":       "/settings/team",
		"/sub-tenants/5/users": "/",
		"/orders/new":          "/",
		"//evil.example":       "/",
	}
	for from, want := range cases {
		r := alice.follow(alice.get(tenantURL("acme", "/go/globex?next="+url.QueryEscape(from))))
		if got := mustParse(t, r.url); got.Host != "globex.localhost:8080" || got.Path != want {
			t.Errorf("switching from %s ended on %s, want %s on globex", from, r.url, want)
		}
	}
}

func TestOwnershipTransfer(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := a.tenant("acme")
	dave, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("dave@acme.test").ID)
	bob, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("bob@globex.test").ID)
	team := tenantURL("acme", "/settings/team")
	owner := func(id int64) string {
		return tenantURL("acme", "/settings/team/members/"+strconv.FormatInt(id, 10)+"/owner")
	}

	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantBody(t, alice.get(team), "Make owner")
	// Bob already owns Globex: refused, nothing changes.
	wantBody(t, alice.follow(alice.submit(team, owner(bob.ID), nil)), "already owns a company")
	r := alice.submit(team, owner(dave.ID), nil)
	wantBody(t, alice.follow(r), "Dave Davis is now the owner of Acme Corp")
	after := a.tenant("acme")
	if after.OwnerUserID == nil || *after.OwnerUserID != a.user("dave@acme.test").ID {
		t.Fatal("ownership did not move")
	}
	if m, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("dave@acme.test").ID); m.Role != models.RoleSuperAdmin {
		t.Fatalf("new owner is %s, want Super Admin", m.Role)
	}
	// Alice is no longer the owner: she cannot transfer again, and can now be managed.
	aliceM, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("alice@acme.test").ID)
	wantStatus(t, alice.submit(team, owner(bob.ID), nil), http.StatusForbidden)
	if aliceM.Role != models.RoleSuperAdmin {
		t.Fatal("the former owner lost Super Admin")
	}
}

// TestEditMember: from the Team list, an Admin opens a member's Edit form
// and saves their role and templates together, back at the same search.
func TestEditMember(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme").ID
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme") // Admin
	dave := num(a.membershipID("dave@acme.test", "acme"))
	income := num(a.templateID("acme", "Income verification"))

	list := bob.get(tenantURL("acme", "/settings/team?q=a"))
	wantBody(t, list, `href="/settings/team/members/`+dave+`/edit?q=a"`, `aria-label="Edit Dave Davis"`)
	// Not himself, and not the owner, a Super Admin above him.
	wantNoBody(t, list, `/members/`+num(a.membershipID("bob@globex.test", "acme"))+`/edit`, `/members/`+num(a.membershipID("alice@acme.test", "acme"))+`/edit`)

	formURL := tenantURL("acme", "/settings/team/members/"+dave+"/edit?q=a")
	form := bob.get(formURL)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Edit member", "Dave Davis", "dave@acme.test", `<option value="viewer" selected>`, `<option value="admin"`,
		"Employment verification", "Income verification", "Leave all unticked", `name="q" value="a"`, `href="/settings/team?q=a"`, "Current company")
	wantNoBody(t, form, `value="super_admin"`)
	if ticked := regexp.MustCompile(`name="templates"[^>]*checked`).FindString(form.body); ticked != "" {
		t.Fatalf("a template is ticked for a member with no list: %s", ticked)
	}

	// A template of another company is refused beside the field; nothing changes.
	r := bob.submit(formURL, tenantURL("acme", "/settings/team/members/"+dave+"/edit"), url.Values{"role": {"editor"}, "templates": {income, "999999"}, "q": {"a"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Choose templates from the list.", "dave@acme.test", `<option value="editor" selected>`, `value="`+income+`" checked`)
	if m, _ := a.store.MembershipOf(ctx, acme, a.user("dave@acme.test").ID); m.Role != models.RoleViewer {
		t.Fatalf("a refused form changed dave's role to %s", m.Role)
	}

	r = bob.submit(formURL, tenantURL("acme", "/settings/team/members/"+dave+"/edit"), url.Values{"role": {"editor"}, "templates": {income}, "q": {"a"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/settings/team?q=a" {
		t.Fatalf("saved, then sent to %q", r.location)
	}
	wantBody(t, bob.follow(r), "Saved. Dave Davis is an Editor and may order from 1 template.")
	m, _ := a.store.MembershipOf(ctx, acme, a.user("dave@acme.test").ID)
	ids, _ := a.store.MemberTemplateIDs(ctx, acme, m.ID)
	if m.Role != models.RoleEditor || len(ids) != 1 || num(ids[0]) != income {
		t.Fatalf("dave is %s with templates %v", m.Role, ids)
	}
	// The form shows what was saved.
	wantBody(t, bob.get(formURL), `<option value="editor" selected>`, `value="`+income+`" checked`)

	// Nobody edits themselves; an Admin does not edit the owner.
	wantStatus(t, bob.get(tenantURL("acme", "/settings/team/members/"+num(a.membershipID("bob@globex.test", "acme"))+"/edit")), http.StatusForbidden)
	wantStatus(t, bob.get(tenantURL("acme", "/settings/team/members/"+num(a.membershipID("alice@acme.test", "acme"))+"/edit")), http.StatusForbidden)
}

// TestOwnersTemplatesAreEditable: the owner's role is fixed, but another
// Super Admin may change the templates the owner orders from.
func TestOwnersTemplatesAreEditable(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme").ID
	bobID := a.membershipID("bob@globex.test", "acme")
	if err := a.store.ChangeRole(ctx, models.MemberChange{TenantID: acme, ActorUserID: a.user("alice@acme.test").ID, ActorRole: models.RoleSuperAdmin, MembershipID: bobID}, models.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	owner := num(a.membershipID("alice@acme.test", "acme"))
	wantBody(t, bob.get(tenantURL("acme", "/settings/team")), `href="/settings/team/members/`+owner+`/edit"`)
	formURL := tenantURL("acme", "/settings/team/members/"+owner+"/edit")
	form := bob.get(formURL)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "The owner's role is fixed", `name="role" value="super_admin"`)
	wantNoBody(t, form, "<select")
	income := num(a.templateID("acme", "Income verification"))
	r := bob.submit(formURL, formURL, url.Values{"role": {"super_admin"}, "templates": {income}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, bob.follow(r), "Alice Anderson is a Super Admin and may order from 1 template.")
	// Crafted, a new role for the owner is refused and nothing changes.
	r = bob.submit(formURL, formURL, url.Values{"role": {"admin"}})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "The owner of a company cannot be removed or demoted.")
	m, _ := a.store.MembershipOf(ctx, acme, a.user("alice@acme.test").ID)
	if ids, _ := a.store.MemberTemplateIDs(ctx, acme, m.ID); m.Role != models.RoleSuperAdmin || len(ids) != 1 {
		t.Fatalf("the owner is %s with templates %v", m.Role, ids)
	}
}

// expire makes the open invitation to email a week old.
func (a *app) expire(email string) int64 {
	a.t.Helper()
	if err := a.db.Exec("UPDATE invitations SET expires_at = ? WHERE email = ? AND status = 'pending'", time.Now().UTC().Add(-time.Hour), email).Error; err != nil {
		a.t.Fatal(err)
	}
	var id int64
	a.db.Raw("SELECT id FROM invitations WHERE email = ? AND status = 'pending'", email).Scan(&id)
	return id
}

// rowMentioning is the table row of the list that mentions text.
func rowMentioning(t *testing.T, r response, text string) string {
	t.Helper()
	table := tableOf(r)
	i := strings.Index(table, text)
	if i < 0 {
		t.Fatalf("%s: no row mentions %q\n%s", r.url, text, excerpt(table))
	}
	start := strings.LastIndex(table[:i], "<tr")
	end := strings.Index(table[i:], "</tr>")
	return table[start : i+end]
}

func TestExpiredInvitationIsShownAsExpiredAndCanBeSentAgain(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	team := tenantURL("acme", "/settings/team")
	addMember(alice, "acme", person("late@example.com", "editor"))
	wantBody(t, alice.get(team), "Invited")
	id := a.expire("late@example.com")

	row := rowMentioning(t, alice.get(team), "late@example.com")
	for _, want := range []string{"Expired", "Invite again", "Revoke", "already stopped working"} {
		if !strings.Contains(row, want) {
			t.Errorf("the expired invitation's row lacks %q:\n%s", want, row)
		}
	}
	for _, wrong := range []string{"Invited", ">Resend<"} {
		if strings.Contains(row, wrong) {
			t.Errorf("the expired invitation's row says %q:\n%s", wrong, row)
		}
	}
	// Adding them again points to Invite again instead of a dead end.
	again := addMember(alice, "acme", person("late@example.com", "editor"))
	wantStatus(t, again, http.StatusUnprocessableEntity)
	wantBody(t, again, "Their earlier invitation expired. Use Invite again")
	// Invite again: a new link that works, and the row is Invited again.
	r := alice.submit(team, tenantURL("acme", "/settings/team/invitations/"+strconv.FormatInt(id, 10)+"/resend"), nil)
	wantBody(t, alice.follow(r), "Invitation sent again with a new link, valid for 7 days")
	links := a.inbox("late@example.com")
	if len(links) != 2 {
		t.Fatalf("links %v", links)
	}
	wantStatus(t, a.browser().get(links[1]), http.StatusOK)
	if row := rowMentioning(t, alice.get(team), "late@example.com"); !strings.Contains(row, "Invited") || strings.Contains(row, "Expired") {
		t.Fatalf("after inviting again:\n%s", row)
	}
	// An expired invitation can also be revoked; it leaves the list.
	addMember(alice, "acme", person("gone@example.com", "viewer"))
	gone := a.expire("gone@example.com")
	alice.submit(team, tenantURL("acme", "/settings/team/invitations/"+strconv.FormatInt(gone, 10)+"/revoke"), nil)
	if strings.Contains(tableOf(alice.get(team)), "gone@example.com") {
		t.Fatal("a revoked expired invitation is still listed")
	}
}

func TestSubTenantUsersTabShowsExpiredInvitations(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	users := tenantURL("acme", "/sub-tenants/"+idOf(a.tenant("acme-eu"))+"/users")
	alice.submit(users+"/new", users, url.Values{"first_name": {"Ivy"}, "last_name": {"Ito"}, "email": {"ivy@example.com"}, "role": {"viewer"}})
	id := a.expire("ivy@example.com")
	row := rowMentioning(t, alice.get(users), "ivy@example.com")
	if !strings.Contains(row, "Expired") || !strings.Contains(row, "Invite again") || strings.Contains(row, "Invited") {
		t.Fatalf("the expired invitation's row:\n%s", row)
	}
	r := alice.submit(users, tenantURL("acme", "/sub-tenants/"+idOf(a.tenant("acme-eu"))+"/invitations/"+strconv.FormatInt(id, 10)+"/resend"), nil)
	wantBody(t, alice.follow(r), "Invitation sent again")
	if row := rowMentioning(t, alice.get(users), "ivy@example.com"); !strings.Contains(row, "Invited") {
		t.Fatalf("after inviting again:\n%s", row)
	}
}

func TestMakeOwnerOnlyForWhoCanOwn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := a.tenant("acme")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	page := alice.get(tenantURL("acme", "/settings/team"))
	for email, offered := range map[string]bool{"dave@acme.test": true, "bob@globex.test": false} {
		m, err := a.store.MembershipOf(context.Background(), acme.ID, a.user(email).ID)
		if err != nil {
			t.Fatal(err)
		}
		action := "/settings/team/members/" + strconv.FormatInt(m.ID, 10) + "/owner"
		if got := strings.Contains(page.body, action); got != offered {
			t.Errorf("Make owner offered for %s: %v, want %v (bob owns Globex)", email, got, offered)
		}
	}
}
