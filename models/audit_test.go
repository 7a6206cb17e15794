package models_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

const auditIP = "203.0.113.7"

// auditEvents is every event of one action on one tenant, newest first.
func auditEvents(t *testing.T, store *models.Store, tenantID int64, action string) []models.AuditRow {
	t.Helper()
	page, err := store.AuditLog(context.Background(), tenantID, false, models.AuditFilter{Action: action}, models.PageRequest{Number: 1, Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// TestAuditRecordsEachAction performs every audited change once and checks
// it wrote exactly one event naming the actor, tenant, target, before and
// after, and IP.
func TestAuditRecordsEachAction(t *testing.T) {
	w := newWorld(t)
	store := w.store
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email, IP: auditIP})
	bob := mustUser(t, store, "bob@acme.test")
	mail := &sentMail{}
	var bobMembership *models.Membership
	var child *models.Tenant
	var device *models.Device
	var invitationID int64

	type step struct {
		action      string
		tenant      func() int64
		do          func() error
		actor       string // the actor's email; alice unless set
		targetLabel string
		before      string // a fragment of the before JSON; "" means none
		after       string
	}
	acme := func() int64 { return w.acme.ID }
	steps := []step{
		{action: models.AuditMemberAdded, tenant: acme, targetLabel: "bob@acme.test", after: `"role":"viewer"`, do: func() (err error) {
			bobMembership, err = store.AddMember(ctx, w.acme.ID, bob.ID, models.RoleViewer)
			return err
		}},
		{action: models.AuditMemberRoleChanged, tenant: acme, targetLabel: "bob@acme.test", before: `"role":"viewer"`, after: `"role":"editor"`, do: func() error {
			return store.ChangeRole(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: bobMembership.ID}, models.RoleEditor)
		}},
		{action: models.AuditOwnershipTransferred, tenant: acme, targetLabel: "bob@acme.test", before: strconv.FormatInt(w.alice.ID, 10), after: strconv.FormatInt(bob.ID, 10), do: func() error {
			_, err := store.TransferOwnership(ctx, w.acme.ID, w.alice.ID, bobMembership.ID)
			return err
		}},
		{action: models.AuditInvitationSent, tenant: acme, targetLabel: "carol@acme.test", after: `"role":"admin"`, do: func() error {
			_, err := store.Invite(ctx, invite(w, "carol@acme.test", models.RoleAdmin), mail.build)
			return err
		}},
		{action: models.AuditInvitationResent, tenant: acme, targetLabel: "carol@acme.test", after: "expires_at", do: func() error {
			page, err := store.Team(ctx, w.acme.ID, "carol", models.PageRequest{Number: 1, Size: 10})
			if err != nil || len(page.Items) != 1 {
				return errors.New("carol's invitation is not listed")
			}
			invitationID = page.Items[0].ID
			return store.ResendInvitation(ctx, w.acme.ID, invitationID, models.RoleSuperAdmin, mail.build)
		}},
		{action: models.AuditInvitationRevoked, tenant: acme, targetLabel: "carol@acme.test", before: "pending", after: "revoked", do: func() error {
			return store.RevokeInvitation(ctx, w.acme.ID, invitationID, models.RoleSuperAdmin)
		}},
		{action: models.AuditInvitationAccepted, tenant: acme, actor: "dan@acme.test", targetLabel: "dan@acme.test", before: "pending", after: "accepted", do: func() error {
			if _, err := store.Invite(ctx, invite(w, "dan@acme.test", models.RoleViewer), mail.build); err != nil {
				return err
			}
			if _, err := store.AcceptInvitation(ctx, mail.last(), models.NewUser{FirstName: "Dan", Password: "a-long-password"}); err != nil {
				return err
			}
			// Joining is the invitee's own act, recorded as theirs.
			if added := auditEvents(t, store, w.acme.ID, models.AuditMemberAdded); added[0].ActorEmail != "dan@acme.test" || added[0].TargetLabel != "dan@acme.test" {
				return errors.New("member.added on acceptance is not dan's: " + added[0].ActorEmail)
			}
			return nil
		}},
		{action: models.AuditInvitationDeclined, tenant: acme, actor: "erin@acme.test", targetLabel: "erin@acme.test", before: "pending", after: "declined", do: func() error {
			if _, err := store.Invite(ctx, invite(w, "erin@acme.test", models.RoleViewer), mail.build); err != nil {
				return err
			}
			_, err := store.DeclineInvitation(ctx, mail.last())
			return err
		}},
		{action: models.AuditMemberRemoved, tenant: acme, targetLabel: "dan@acme.test", before: `"role":"viewer"`, do: func() error {
			dan, err := store.UserByEmail(ctx, "dan@acme.test")
			if err != nil {
				return err
			}
			m, err := store.MembershipOf(ctx, w.acme.ID, dan.ID)
			if err != nil {
				return err
			}
			return store.RemoveMembership(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: m.ID})
		}},
		{action: models.AuditTenantCreated, tenant: func() int64 { return child.ID }, targetLabel: "Acme Labs", after: `"subdomain":"acme-labs"`, do: func() (err error) {
			child, err = store.CreateSubTenant(ctx, models.NewSubTenant{ParentID: w.acme.ID, ActorUserID: w.alice.ID, Name: "Acme Labs", Subdomain: "acme-labs", Description: "Research", Email: "owner@labs.test", Timezone: "UTC"}, mail.build)
			return err
		}},
		{action: models.AuditTenantDeactivated, tenant: func() int64 { return child.ID }, targetLabel: "Acme Labs", before: "active", after: "inactive", do: func() error {
			_, err := store.SetSubTenantStatus(ctx, w.acme.ID, child.ID, models.TenantInactive)
			return err
		}},
		{action: models.AuditTenantActivated, tenant: func() int64 { return child.ID }, targetLabel: "Acme Labs", before: "inactive", after: `"status":"active"`, do: func() error {
			_, err := store.SetSubTenantStatus(ctx, w.acme.ID, child.ID, models.TenantActive)
			return err
		}},
		{action: models.AuditSettingsSaved, tenant: func() int64 { return child.ID }, targetLabel: "Acme Labs", before: `"timezone":"UTC"`, after: `"timezone":"Europe/Paris"`, do: func() error {
			return store.SaveSubTenantSettings(ctx, w.acme.ID, child.ID, models.SubTenantSettings{Timezone: "Europe/Paris"})
		}},
		{action: models.AuditSettingsSaved, tenant: acme, targetLabel: "Acme Corp", before: `"timezone":"America/New_York"`, after: `"timezone":"Europe/Lisbon"`, do: func() error {
			return store.SetTenantTimezone(ctx, w.acme.ID, "Europe/Lisbon")
		}},
		{action: models.AuditDeviceAdded, tenant: acme, targetLabel: "SN-1", after: `"model":"Tracker"`, do: func() (err error) {
			device, err = store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "SN-1", Model: "Tracker"})
			return err
		}},
		{action: models.AuditDeviceImported, tenant: acme, targetLabel: "2 devices", after: `"imported":2`, do: func() error {
			_, err := store.ImportDevicesCSV(ctx, w.acme.ID, strings.NewReader("identifier,model\nSN-2,Tracker\nSN-3,Tracker\nSN-1,Tracker\n"))
			return err
		}},
		{action: models.AuditDeviceStatusChanged, tenant: acme, targetLabel: "SN-1", before: `"status":"active"`, after: `"status":"inactive"`, do: func() error {
			_, err := store.SetDeviceStatus(ctx, w.acme.ID, device.ID, models.DeviceInactive)
			return err
		}},
		{action: models.AuditDeviceDeprovisioned, tenant: acme, targetLabel: "SN-1", before: `"status":"inactive"`, after: `"status":"deprovisioned"`, do: func() error {
			_, err := store.DeprovisionDevice(ctx, w.acme.ID, device.ID)
			return err
		}},
		{action: models.AuditTemplateCreated, tenant: acme, targetLabel: "Loans", after: `"name":"Loans"`, do: func() error {
			_, err := store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, models.NewTemplate{Name: "Loans", BrandingCompanyName: "Acme", Collects: []string{models.OrderDataKinds[0].Key}})
			return err
		}},
		{action: models.AuditTemplateUpdated, tenant: acme, targetLabel: "Loans", before: `"branding_company_name":"Acme"`, after: `"branding_company_name":"Acme Lending"`, do: func() error {
			tpl, err := store.TemplateByName(ctx, w.acme.ID, "Loans")
			if err != nil {
				return err
			}
			_, err = store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, models.NewTemplate{Name: "Loans", BrandingCompanyName: "Acme Lending", Collects: []string{models.OrderDataKinds[0].Key}})
			return err
		}},
		{action: models.AuditTemplateDeleted, tenant: acme, targetLabel: "Spare", before: `"name":"Spare"`, do: func() error {
			tpl, err := store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, models.NewTemplate{Name: "Spare", BrandingCompanyName: "Acme", Collects: []string{models.OrderDataKinds[0].Key}})
			if err != nil {
				return err
			}
			_, err = store.DeleteTemplate(ctx, w.acme.ID, tpl.ID)
			return err
		}},
		{action: models.AuditMemberTemplates, tenant: acme, targetLabel: "bob@acme.test", before: `"templates":"every template"`, after: `"templates":"Loans"`, do: func() error {
			tpl, err := store.TemplateByName(ctx, w.acme.ID, "Loans")
			if err != nil {
				return err
			}
			// Bob owns acme by now: his templates change, his role stays.
			return store.UpdateMember(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: bobMembership.ID},
				models.MemberUpdate{Role: models.RoleSuperAdmin, TemplateIDs: []int64{tpl.ID}})
		}},
		{action: models.AuditDeviceModelChanged, tenant: acme, targetLabel: "SN-2", before: `"model":"Tracker"`, after: `"model":"Tracker Pro"`, do: func() error {
			d, err := store.DeviceByIdentifier(ctx, w.acme.ID, "SN-2")
			if err != nil {
				return err
			}
			_, err = store.SetDeviceModel(ctx, w.acme.ID, d.ID, "Tracker Pro")
			return err
		}},
		{action: models.AuditOrderCreated, tenant: acme, targetLabel: "REF-9", after: `"reference":"REF-9"`, do: func() error {
			tpl, err := store.TemplateByName(ctx, w.acme.ID, "Loans")
			if err != nil {
				return err
			}
			m, err := store.MembershipOf(ctx, w.acme.ID, w.alice.ID)
			if err != nil {
				return err
			}
			_, err = store.CreateOrder(ctx, w.acme.ID, m.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane Roe", Reference: "REF-9"}, nil)
			return err
		}},
		{action: models.AuditCompanyEntered, tenant: acme, targetLabel: "Acme Corp", do: func() error {
			return store.Audit(ctx, w.acme.ID, models.AuditCompanyEntered, models.AuditTarget{Type: "tenant", ID: w.acme.ID, Label: "Acme Corp"}, nil, nil)
		}},
	}
	for _, s := range steps {
		t.Run(s.action, func(t *testing.T) {
			var tenantBefore int
			if s.action != models.AuditTenantCreated {
				tenantBefore = len(auditEvents(t, store, s.tenant(), s.action))
			}
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			got := auditEvents(t, store, s.tenant(), s.action)
			if len(got) != tenantBefore+1 {
				t.Fatalf("%d new %s events, want 1", len(got)-tenantBefore, s.action)
			}
			e := got[0]
			actor := w.alice.Email
			if s.actor != "" {
				actor = s.actor
			}
			if e.TenantID != s.tenant() || e.ActorEmail != actor || e.IP != auditIP || e.TargetLabel != s.targetLabel || e.TargetType == "" {
				t.Fatalf("event %+v; want tenant %d, actor %s, IP %s, target %q", e.AuditEvent, s.tenant(), actor, auditIP, s.targetLabel)
			}
			if actor == w.alice.Email && (e.ActorUserID == nil || *e.ActorUserID != w.alice.ID) {
				t.Fatalf("actor user id %v, want %d", e.ActorUserID, w.alice.ID)
			}
			if !strings.Contains(str(e.Before), s.before) || (s.before == "") != (e.Before == nil) {
				t.Fatalf("before %q, want it to contain %q", str(e.Before), s.before)
			}
			if !strings.Contains(str(e.After), s.after) || (s.after == "") != (e.After == nil) {
				t.Fatalf("after %q, want it to contain %q", str(e.After), s.after)
			}
			if time.Since(e.CreatedAt) > time.Minute {
				t.Fatalf("created at %v", e.CreatedAt)
			}
		})
	}
}

// TestAuditFailedChangeWritesNothing: a refused change records no event,
// and an event that cannot be written undoes the change with it.
func TestAuditFailedChangeWritesNothing(t *testing.T) {
	w := newWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email, IP: auditIP})
	bob := mustUser(t, w.store, "bob@acme.test")
	m, err := w.store.AddMember(ctx, w.acme.ID, bob.ID, models.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	// An Admin may not make someone Super Admin; the owner cannot be re-roled.
	admin := models.MemberChange{TenantID: w.acme.ID, ActorUserID: bob.ID, ActorRole: models.RoleAdmin, MembershipID: m.ID}
	if err := w.store.ChangeRole(ctx, admin, models.RoleSuperAdmin); err == nil {
		t.Fatal("an admin re-roled themself")
	}
	owner, _ := w.store.MembershipOf(ctx, w.acme.ID, w.alice.ID)
	admin.MembershipID = owner.ID
	if err := w.store.ChangeRole(ctx, admin, models.RoleViewer); err == nil {
		t.Fatal("the owner was demoted")
	}
	if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "bad id!", Model: "X"}); err == nil {
		t.Fatal("an invalid device was added")
	}
	for _, action := range []string{models.AuditMemberRoleChanged, models.AuditDeviceAdded} {
		if got := auditEvents(t, w.store, w.acme.ID, action); len(got) != 0 {
			t.Fatalf("%d %s events after refused changes", len(got), action)
		}
	}

	// The event is written in the change's transaction: when it cannot be
	// written (an actor who does not exist breaks its foreign key), the
	// change is undone too.
	ghost := models.WithActor(context.Background(), models.Actor{UserID: 1 << 40, Email: "ghost@nowhere.test", IP: auditIP})
	superAdmin := models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: m.ID}
	if err := w.store.ChangeRole(ghost, superAdmin, models.RoleViewer); err == nil {
		t.Fatal("role changed although its event could not be written")
	}
	if again, _ := w.store.MembershipOf(ctx, w.acme.ID, bob.ID); again.Role != models.RoleAdmin {
		t.Fatalf("role is %s after a failed change, want admin", again.Role)
	}
	if _, err := w.store.AddDevice(ghost, w.acme.ID, models.NewDevice{Identifier: "SN-1", Model: "X"}); err == nil {
		t.Fatal("device added although its event could not be written")
	}
	if _, err := w.store.DeviceByIdentifier(ctx, w.acme.ID, "SN-1"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("device exists after a failed add: %v", err)
	}
	if got := auditEvents(t, w.store, w.acme.ID, models.AuditMemberRoleChanged); len(got) != 0 {
		t.Fatalf("%d role change events", len(got))
	}
}

// TestAuditLogScope: a tenant sees its own events; with children, its
// direct sub-tenants' too; never a sibling's, a grandchild's or the parent's.
func TestAuditLogScope(t *testing.T) {
	w := newWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email, IP: auditIP})
	mk := func(parent int64, name, sub string) *models.Tenant {
		tn, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: parent, Name: name, Subdomain: sub, Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	eu := mk(w.acme.ID, "Acme EU", "acme-eu")
	deep := mk(eu.ID, "Acme EU Lab", "acme-eu-lab")
	globex := mk(w.platform.ID, "Globex", "globex")
	for _, tn := range []*models.Tenant{w.acme, eu, deep, globex} {
		if _, err := w.store.AddDevice(ctx, tn.ID, models.NewDevice{Identifier: "D-" + tn.Subdomain, Model: "M"}); err != nil {
			t.Fatal(err)
		}
	}
	labels := func(tenantID int64, withChildren bool, f models.AuditFilter) []string {
		f.Action = models.AuditDeviceAdded
		page, err := w.store.AuditLog(ctx, tenantID, withChildren, f, models.PageRequest{Number: 1, Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range page.Items {
			out = append(out, e.TenantName+":"+e.TargetLabel)
		}
		return out
	}
	if got := strings.Join(labels(w.acme.ID, false, models.AuditFilter{}), ","); got != "Acme Corp:D-acme" {
		t.Fatalf("acme alone sees %s", got)
	}
	if got := strings.Join(labels(w.acme.ID, true, models.AuditFilter{}), ","); got != "Acme EU:D-acme-eu,Acme Corp:D-acme" {
		t.Fatalf("acme with children sees %s", got)
	}
	if got := labels(w.acme.ID, true, models.AuditFilter{ActorEmail: "nobody"}); len(got) != 0 {
		t.Fatalf("actor filter let through %v", got)
	}
	if got := labels(w.acme.ID, true, models.AuditFilter{ActorEmail: "ALICE@"}); len(got) != 2 {
		t.Fatalf("actor filter dropped events: %v", got)
	}
	if got := labels(w.acme.ID, true, models.AuditFilter{From: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Fatalf("from filter let through %v", got)
	}
	if got := labels(w.acme.ID, true, models.AuditFilter{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)}); len(got) != 2 {
		t.Fatalf("date range dropped events: %v", got)
	}
	if _, err := w.store.AuditLog(ctx, 0, true, models.AuditFilter{}, models.PageRequest{Number: 1, Size: 10}); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("zero tenant: %v", err)
	}
	if _, err := w.store.AuditExport(ctx, 0, false, models.AuditFilter{}); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("zero tenant export: %v", err)
	}
}

// TestEveryAuditActionIsAccepted: the database's list of actions (a CHECK
// constraint, see the migrations) holds every action the code knows.
func TestEveryAuditActionIsAccepted(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, a := range models.AuditActions {
		if err := w.store.Audit(ctx, w.acme.ID, a.Key, models.AuditTarget{Type: "test", Label: a.Label}, nil, nil); err != nil {
			t.Errorf("%s: %v", a.Key, err)
		}
	}
	if err := w.store.Audit(ctx, w.acme.ID, "template.stolen", models.AuditTarget{Type: "test"}, nil, nil); err == nil {
		t.Error("the database accepted an unknown action")
	}
}

// TestAuditLogIsInsertOnly: once written, an event stays as it was, on both
// databases, whoever asks (on Postgres the application role also lacks the
// grants; rls_test.go proves that as the role itself).
func TestAuditLogIsInsertOnly(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.store.Audit(ctx, w.acme.ID, models.AuditSettingsSaved, models.AuditTarget{Type: "tenant", Label: "Acme Corp"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"UPDATE audit_events SET actor_email = 'someone@else.test'",
		"UPDATE audit_events SET action = 'member.added' WHERE action = 'settings.saved'",
		"DELETE FROM audit_events",
	} {
		if err := w.store.ExecForTest(ctx, sql); err == nil || !strings.Contains(err.Error(), "insert-only") {
			t.Errorf("%s: err = %v, want the insert-only trigger", sql, err)
		}
	}
	if got := auditEvents(t, w.store, w.acme.ID, models.AuditSettingsSaved); len(got) != 1 || got[0].ActorEmail == "someone@else.test" {
		t.Fatalf("the event was changed: %+v", got)
	}
}
