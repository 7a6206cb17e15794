package models_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"canopy/models"
)

// sentMail records the tokens of invitation emails, as an inbox would.
type sentMail struct {
	mu     sync.Mutex
	tokens []string
}

func (m *sentMail) build(inv *models.Invitation, t *models.Tenant, token string) models.NewEmail {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens = append(m.tokens, token)
	return models.NewEmail{TenantID: t.ID, To: inv.Email, Subject: "Join " + t.Name, Body: "http://localhost/invitations/" + token}
}

func (m *sentMail) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[len(m.tokens)-1]
}

func invite(w world, email string, role models.Role) models.InviteRequest {
	return models.InviteRequest{TenantID: w.acme.ID, InviterID: w.alice.ID, InviterRole: models.RoleSuperAdmin,
		Email: email, FirstName: "New", LastName: "Person", Role: role}
}

func outboxCount(t *testing.T, w world, to string) int {
	t.Helper()
	msgs, err := w.store.OutboxFor(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func TestInviteActiveUserAddsAtOnceWithoutEmail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	mail := &sentMail{}
	outcome, err := w.store.Invite(ctx, invite(w, "BOB@globex.test", models.RoleAdmin), mail.build)
	if err != nil || outcome != models.AddedAtOnce {
		t.Fatalf("outcome %v, err %v", outcome, err)
	}
	if m, err := w.store.MembershipOf(ctx, w.acme.ID, bob.ID); err != nil || m.Role != models.RoleAdmin {
		t.Fatalf("not a member: %v", err)
	}
	if len(mail.tokens) != 0 || outboxCount(t, w, "bob@globex.test") != 0 {
		t.Fatal("an active user was emailed")
	}
	if _, err := w.store.Invite(ctx, invite(w, "bob@globex.test", models.RoleViewer), mail.build); fieldError(err, "email") == "" {
		t.Fatalf("second add: %v", err)
	}
}

func TestInviteUnknownEmailThenAccept(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	outcome, err := w.store.Invite(ctx, invite(w, "new@acme.test", models.RoleEditor), mail.build)
	if err != nil || outcome != models.InvitationSent {
		t.Fatalf("outcome %v, err %v", outcome, err)
	}
	if outboxCount(t, w, "new@acme.test") != 1 {
		t.Fatal("no email in the outbox")
	}
	token := mail.last()
	inv, tenant, err := w.store.InvitationByToken(ctx, token)
	if err != nil || tenant.ID != w.acme.ID || inv.Role != models.RoleEditor {
		t.Fatalf("lookup: %+v %v", inv, err)
	}
	// The form cannot choose another email: the invitation's address is used.
	acc, err := w.store.AcceptInvitation(ctx, token, models.NewUser{Email: "attacker@evil.test", FirstName: "New", Password: "a-long-password"})
	if err != nil {
		t.Fatal(err)
	}
	user := acc.User
	if user.Email != "new@acme.test" || !acc.NewAccount {
		t.Fatalf("user created as %s", user.Email)
	}
	if m, err := w.store.MembershipOf(ctx, w.acme.ID, user.ID); err != nil || m.Role != models.RoleEditor {
		t.Fatalf("membership: %v", err)
	}
	if _, err := w.store.Authenticate(ctx, "new@acme.test", "a-long-password"); err != nil {
		t.Fatalf("cannot sign in with the chosen password: %v", err)
	}
	// Single use.
	if _, err := w.store.AcceptInvitation(ctx, token, models.NewUser{FirstName: "X", Password: "a-long-password"}); !errors.Is(err, models.ErrInvitationUsed) {
		t.Fatalf("second acceptance: %v", err)
	}
}

func TestInvitationDoubleSubmitLeavesOne(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.store.Invite(ctx, invite(w, "twice@acme.test", models.RoleViewer), mail.build)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if fieldError(err, "email") == "" {
			t.Errorf("unfriendly error: %v", err)
		}
	}
	if ok != 1 || outboxCount(t, w, "twice@acme.test") != 1 {
		t.Fatalf("%d invitations succeeded, %d emails queued; want 1 and 1", ok, outboxCount(t, w, "twice@acme.test"))
	}
}

func TestDeclinedUserIsEmailedNextTime(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	if _, err := w.store.Invite(ctx, invite(w, "maybe@acme.test", models.RoleViewer), mail.build); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.DeclineInvitation(ctx, mail.last()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.AcceptInvitation(ctx, mail.last(), models.NewUser{FirstName: "M", Password: "a-long-password"}); !errors.Is(err, models.ErrInvitationUsed) {
		t.Fatalf("accepting a declined invitation: %v", err)
	}
	// Meanwhile they became an active user elsewhere; the earlier decline still means an email.
	mustUser(t, w.store, "maybe@acme.test")
	outcome, err := w.store.Invite(ctx, invite(w, "maybe@acme.test", models.RoleViewer), mail.build)
	if err != nil || outcome != models.InvitationSent {
		t.Fatalf("outcome %v err %v; a declined person must get an email", outcome, err)
	}
	// An existing user just accepts: no new account, no password needed.
	acc, err := w.store.AcceptInvitation(ctx, mail.last(), models.NewUser{})
	if err != nil || acc.User.Email != "maybe@acme.test" || acc.NewAccount {
		t.Fatalf("existing user accept: %v", err)
	}
}

func TestResendAndRevoke(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	if _, err := w.store.Invite(ctx, invite(w, "later@acme.test", models.RoleAdmin), mail.build); err != nil {
		t.Fatal(err)
	}
	first := mail.last()
	page, _ := w.store.Team(ctx, w.acme.ID, "later", models.ParsePage("", 10))
	if len(page.Items) != 1 || page.Items[0].Status != "invited" {
		t.Fatalf("team list: %+v", page.Items)
	}
	id := page.Items[0].ID
	if err := w.store.ResendInvitation(ctx, w.acme.ID, id, models.RoleAdmin, mail.build); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.store.InvitationByToken(ctx, first); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("old link still works after resend: %v", err)
	}
	if outboxCount(t, w, "later@acme.test") != 2 {
		t.Fatal("resend queued no email")
	}
	// Another tenant cannot touch it (its id is not theirs).
	if err := w.store.RevokeInvitation(ctx, w.platform.ID, id, models.RoleSuperAdmin); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("revoked from another tenant: %v", err)
	}
	if err := w.store.RevokeInvitation(ctx, w.acme.ID, id, models.RoleViewer); !errors.Is(err, models.ErrNotAllowed) {
		t.Fatalf("viewer revoked: %v", err)
	}
	if err := w.store.RevokeInvitation(ctx, w.acme.ID, id, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.store.InvitationByToken(ctx, mail.last()); !errors.Is(err, models.ErrInvitationRevoked) {
		t.Fatalf("revoked link: %v", err)
	}
}

func TestInviteRules(t *testing.T) {
	w := newWorld(t)
	mail := &sentMail{}
	cases := []struct {
		name  string
		req   func() models.InviteRequest
		field string
	}{
		{"bad email", func() models.InviteRequest { return invite(w, "nope", models.RoleViewer) }, "email"},
		{"unknown role", func() models.InviteRequest { return invite(w, "x@acme.test", "owner") }, "role"},
		{"admin grants super admin", func() models.InviteRequest {
			r := invite(w, "x@acme.test", models.RoleSuperAdmin)
			r.InviterRole = models.RoleAdmin
			return r
		}, "role"},
		{"foreign template", func() models.InviteRequest {
			r := invite(w, "x@acme.test", models.RoleViewer)
			r.TemplateIDs = []int64{999999}
			return r
		}, "templates"},
		{"no first name", func() models.InviteRequest {
			r := invite(w, "x@acme.test", models.RoleViewer)
			r.FirstName = " "
			return r
		}, "first_name"},
		{"no last name", func() models.InviteRequest {
			r := invite(w, "x@acme.test", models.RoleViewer)
			r.LastName = "\t"
			return r
		}, "last_name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := w.store.Invite(context.Background(), c.req(), mail.build); fieldError(err, c.field) == "" {
				t.Fatalf("err = %v, want a message for %s", err, c.field)
			}
		})
	}
	if len(mail.tokens) != 0 || outboxCount(t, w, "x@acme.test") != 0 {
		t.Fatal("a refused invitation sent mail")
	}
}

func TestChangeRoleAndRemoveRules(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	people := map[string]*models.User{}
	for email, role := range map[string]models.Role{"adm@acme.test": models.RoleAdmin, "sup@acme.test": models.RoleSuperAdmin, "view@acme.test": models.RoleViewer} {
		people[email] = mustUser(t, w.store, email)
		if _, err := w.store.Invite(ctx, invite(w, email, role), mail.build); err != nil {
			t.Fatal(err)
		}
	}
	member := func(email string) int64 {
		m, err := w.store.MembershipOf(ctx, w.acme.ID, people[email].ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	owner, _ := w.store.MembershipOf(ctx, w.acme.ID, w.alice.ID)
	admin := func(id int64) models.MemberChange {
		return models.MemberChange{TenantID: w.acme.ID, ActorUserID: people["adm@acme.test"].ID, ActorRole: models.RoleAdmin, MembershipID: id}
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"admin raises viewer to admin", w.store.ChangeRole(ctx, admin(member("view@acme.test")), models.RoleAdmin), nil},
		{"admin makes super admin", w.store.ChangeRole(ctx, admin(member("view@acme.test")), models.RoleSuperAdmin), models.ErrNotAllowed},
		{"admin demotes super admin", w.store.ChangeRole(ctx, admin(member("sup@acme.test")), models.RoleViewer), models.ErrNotAllowed},
		{"admin removes super admin", w.store.RemoveMembership(ctx, admin(member("sup@acme.test"))), models.ErrNotAllowed},
		{"admin changes own role", w.store.ChangeRole(ctx, admin(member("adm@acme.test")), models.RoleViewer), models.ErrSelf},
		{"anyone demotes the owner", w.store.ChangeRole(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: people["sup@acme.test"].ID, ActorRole: models.RoleSuperAdmin, MembershipID: owner.ID}, models.RoleViewer), models.ErrOwnerIsFixed},
		{"member of another tenant", w.store.ChangeRole(ctx, models.MemberChange{TenantID: w.platform.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: member("view@acme.test")}, models.RoleViewer), models.ErrNotFound},
		{"admin removes viewer", w.store.RemoveMembership(ctx, admin(member("view@acme.test"))), nil},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) && !(c.want == nil && c.err == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	if _, err := w.store.MembershipOf(ctx, w.acme.ID, people["view@acme.test"].ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatal("removed member still there")
	}
}

func TestCompaniesOf(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	staff, _ := w.store.UserByEmail(ctx, "staff@canopy.test")
	if _, err := w.store.Invite(ctx, models.InviteRequest{TenantID: w.platform.ID, InviterRole: models.RoleSuperAdmin, Email: "alice@acme.test", FirstName: "A", LastName: "Lee", Role: models.RoleViewer}, mail.build); err != nil {
		t.Fatal(err)
	}
	all := models.PageRequest{Number: 1, Size: models.CompanyPageSize}
	found, err := w.store.SearchCompanies(ctx, w.alice.ID, "", all)
	if err != nil {
		t.Fatal(err)
	}
	list := found.Items
	if len(list) != 2 || list[0].Subdomain != "acme" || list[0].OwnerEmail != "alice@acme.test" || list[0].MemberCount != 1 ||
		list[1].Subdomain != "admin" || list[1].OwnerEmail != staff.Email || list[1].MemberCount != 2 {
		t.Fatalf("companies: %+v", list)
	}
	_ = w.store.SetTenantStatus(ctx, w.acme.ID, models.TenantInactive)
	if found, _ = w.store.SearchCompanies(ctx, w.alice.ID, "", all); len(found.Items) != 1 || found.Total != 1 {
		t.Fatalf("inactive company listed: %+v", found.Items)
	}
}

// TestCompaniesOfFiveHundredIsOneQuery: a user in 500 companies has every
// count right, and their toggle is one statement.
func TestCompaniesOfFiveHundredIsOneQuery(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const n = 500
	err := w.store.Tx(ctx, func(tx *models.Store) error {
		for i := range n {
			owner, err := tx.CreateUserForTest(ctx, "owner"+strconv.Itoa(i)+"@many.test")
			if err != nil {
				return err
			}
			c, err := tx.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Company " + strconv.Itoa(i),
				Subdomain: "company-" + strconv.Itoa(i), Timezone: "UTC", OwnerUserID: owner.ID})
			if err != nil {
				return err
			}
			if _, err := tx.AddMember(ctx, c.ID, w.alice.ID, models.RoleViewer); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	found, err := w.store.SearchCompanies(ctx, w.alice.ID, "", models.PageRequest{Number: 1, Size: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(found.Items) != n+1 || found.Total != n+1 {
		t.Fatalf("%d companies of %d listed; want %d", len(found.Items), found.Total, n+1)
	}
	for _, c := range found.Items {
		if c.Subdomain != "acme" && (c.MemberCount != 2 || !strings.HasPrefix(c.OwnerEmail, "owner")) {
			t.Fatalf("wrong row %+v", c)
		}
	}

	// The toggle lists ToggleSize of them, the current one first, and counts all.
	current, err := w.store.TenantBySubdomain(ctx, "company-499")
	if err != nil {
		t.Fatal(err)
	}
	var toggle []models.Company
	var total int64
	queries := w.store.CountQueries(func() {
		var read models.Toggle
		read, err = w.store.CompanyToggle(ctx, w.alice.ID, current.ID)
		toggle, total = read.Companies, read.Total
	})
	if err != nil || queries != 1 || total != n+1 || len(toggle) != models.ToggleSize || toggle[0].ID != current.ID ||
		toggle[1].Subdomain != "acme" || toggle[0].MemberCount != 2 {
		t.Fatalf("toggle: %d rows of %d in %d queries, first %+v, err %v", len(toggle), total, queries, toggle[0], err)
	}

	// The Companies page finds the rest by name.
	found, err = w.store.SearchCompanies(ctx, w.alice.ID, "COMPANY 49", models.PageRequest{Number: 1, Size: models.CompanyPageSize})
	if err != nil || found.Total != 11 || found.Items[0].Name != "Company 49" || found.Items[10].Name != "Company 499" {
		t.Fatalf("search: %d found (%+v), err %v", found.Total, found.Items, err)
	}
	second, err := w.store.SearchCompanies(ctx, w.alice.ID, "", models.PageRequest{Number: 2, Size: models.CompanyPageSize})
	if err != nil || second.Total != n+1 || len(second.Items) != models.CompanyPageSize || !second.HasNext() {
		t.Fatalf("second page: %d of %d, err %v", len(second.Items), second.Total, err)
	}
}

// TestUpdateMember: the Edit member form saves the role and the templates
// together, in one transaction, under the rules of changing a role; what
// changed is audited.
func TestUpdateMember(t *testing.T) {
	w := newTemplateWorld(t) // dave is an Editor of acme, alice its owner
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email})
	loans, leases := mustTemplate(t, w.store, w.acme.ID, "Loans"), mustTemplate(t, w.store, w.acme.ID, "Leases")
	globexTemplate := mustTemplate(t, w.store, w.globex.ID, "Globex's")
	mail := &sentMail{}
	people := map[string]*models.User{}
	for email, role := range map[string]models.Role{"adm@acme.test": models.RoleAdmin, "sup@acme.test": models.RoleSuperAdmin} {
		people[email] = mustUser(t, w.store, email)
		if _, err := w.store.Invite(ctx, invite(w.world, email, role), mail.build); err != nil {
			t.Fatal(err)
		}
	}
	member := func(u *models.User) int64 {
		m, err := w.store.MembershipOf(ctx, w.acme.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	as := func(actor *models.User, role models.Role, target int64) models.MemberChange {
		return models.MemberChange{TenantID: w.acme.ID, ActorUserID: actor.ID, ActorRole: role, MembershipID: target}
	}
	admin, sup := people["adm@acme.test"], people["sup@acme.test"]
	dave := as(admin, models.RoleAdmin, w.daveAtAcme.ID)

	// Role and templates at once, both audited.
	if err := w.store.UpdateMember(ctx, dave, models.MemberUpdate{Role: models.RoleViewer, TemplateIDs: []int64{leases.ID, loans.ID, leases.ID}}); err != nil {
		t.Fatal(err)
	}
	m, err := w.store.MemberForEdit(ctx, dave)
	if err != nil || m.Role != models.RoleViewer || m.Owner || m.User.Email != "dave@acme.test" || !slices.Equal(m.TemplateIDs, []int64{loans.ID, leases.ID}) {
		t.Fatalf("dave after the edit: %+v, %v", m, err)
	}
	if ev := auditEvents(t, w.store, w.acme.ID, models.AuditMemberRoleChanged); len(ev) != 1 || ev[0].TargetLabel != "dave@acme.test" {
		t.Fatalf("role change events: %+v", ev)
	}
	ev := auditEvents(t, w.store, w.acme.ID, models.AuditMemberTemplates)
	if len(ev) != 1 || ev[0].TargetLabel != "dave@acme.test" || str(ev[0].Before) != `{"templates":"every template"}` || str(ev[0].After) != `{"templates":"Leases, Loans"}` {
		t.Fatalf("template change events: %+v", ev)
	}
	// Saving the same again records nothing; ticking none lifts the restriction.
	if err := w.store.UpdateMember(ctx, dave, models.MemberUpdate{Role: models.RoleViewer, TemplateIDs: []int64{loans.ID, leases.ID}}); err != nil {
		t.Fatal(err)
	}
	if n := len(auditEvents(t, w.store, w.acme.ID, models.AuditMemberTemplates)) + len(auditEvents(t, w.store, w.acme.ID, models.AuditMemberRoleChanged)); n != 2 {
		t.Fatalf("%d events after saving the same values, want the 2 of before", n)
	}
	if err := w.store.UpdateMember(ctx, dave, models.MemberUpdate{Role: models.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := w.store.MemberTemplateIDs(ctx, w.acme.ID, w.daveAtAcme.ID); len(ids) != 0 {
		t.Fatalf("dave's templates after ticking none: %v", ids)
	}

	// Problems beside the fields change nothing, the role included.
	for _, c := range []struct {
		field string
		u     models.MemberUpdate
	}{
		{"role", models.MemberUpdate{Role: "owner"}},
		{"templates", models.MemberUpdate{Role: models.RoleEditor, TemplateIDs: []int64{loans.ID, globexTemplate.ID}}},
	} {
		if err := w.store.UpdateMember(ctx, dave, c.u); fieldError(err, c.field) == "" {
			t.Errorf("%+v: err = %v, want a message beside %s", c.u, err, c.field)
		}
	}
	if m, _ := w.store.MemberForEdit(ctx, dave); m.Role != models.RoleViewer || len(m.TemplateIDs) != 0 {
		t.Fatalf("a refused edit changed dave: %+v", m)
	}

	// The rules of changing a role.
	owner := w.aliceAtAcme.ID
	refusals := []struct {
		name   string
		change models.MemberChange
		u      models.MemberUpdate
		want   error
	}{
		{"admin makes super admin", dave, models.MemberUpdate{Role: models.RoleSuperAdmin}, models.ErrNotAllowed},
		{"admin edits a super admin", as(admin, models.RoleAdmin, member(sup)), models.MemberUpdate{Role: models.RoleSuperAdmin, TemplateIDs: []int64{loans.ID}}, models.ErrNotAllowed},
		{"admin edits themself", as(admin, models.RoleAdmin, member(admin)), models.MemberUpdate{Role: models.RoleAdmin, TemplateIDs: []int64{loans.ID}}, models.ErrSelf},
		{"super admin demotes the owner", as(sup, models.RoleSuperAdmin, owner), models.MemberUpdate{Role: models.RoleAdmin}, models.ErrOwnerIsFixed},
		{"admin edits the owner", as(admin, models.RoleAdmin, owner), models.MemberUpdate{Role: models.RoleSuperAdmin, TemplateIDs: []int64{loans.ID}}, models.ErrNotAllowed},
		{"member of another tenant", models.MemberChange{TenantID: w.globex.ID, ActorUserID: w.bob.ID, ActorRole: models.RoleSuperAdmin, MembershipID: w.daveAtAcme.ID}, models.MemberUpdate{Role: models.RoleAdmin}, models.ErrNotFound},
	}
	for _, c := range refusals {
		if err := w.store.UpdateMember(ctx, c.change, c.u); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		// The form opens where only the role asked for is refused.
		formWant := c.want
		if c.name == "admin makes super admin" || c.name == "super admin demotes the owner" {
			formWant = nil
		}
		if _, err := w.store.MemberForEdit(ctx, c.change); !errors.Is(err, formWant) {
			t.Errorf("%s: the form: err = %v, want %v", c.name, err, formWant)
		}
	}
	if m, _ := w.store.MemberForEdit(ctx, dave); m.Role != models.RoleViewer {
		t.Fatalf("a refused edit changed dave's role to %s", m.Role)
	}
	// The owner's role is fixed, but a Super Admin may change their templates.
	ownerChange := as(sup, models.RoleSuperAdmin, owner)
	if m, err := w.store.MemberForEdit(ctx, ownerChange); err != nil || !m.Owner {
		t.Fatalf("the owner in the form: %+v, %v", m, err)
	}
	if err := w.store.UpdateMember(ctx, ownerChange, models.MemberUpdate{Role: models.RoleSuperAdmin, TemplateIDs: []int64{loans.ID}}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := w.store.MemberTemplateIDs(ctx, w.acme.ID, owner); !slices.Equal(ids, []int64{loans.ID}) {
		t.Fatalf("the owner's templates: %v", ids)
	}
}
