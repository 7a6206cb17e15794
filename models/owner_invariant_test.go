package models_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// ownerInvariantBroken lists the tenants whose owner is not their member
// with the role super_admin: none, whatever was done.
func ownerInvariantBroken(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var broken []string
	err := db.Raw(`SELECT tenants.subdomain FROM tenants WHERE owner_user_id IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM memberships WHERE memberships.tenant_id = tenants.id
			AND memberships.user_id = tenants.owner_user_id AND memberships.role = 'super_admin')`).Scan(&broken).Error
	if err != nil {
		t.Fatal(err)
	}
	return broken
}

// The database itself refuses to commit a tenant whose owner is not its
// Super Admin, whatever statements a transaction ran and in whichever
// order; a transfer written in either order commits.
func TestDatabaseRefusesAnOwnerWhoIsNotSuperAdmin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@acme.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, bob.ID, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	outsider := mustUser(t, w.store, "outsider@acme.test")
	acme, alice := w.acme.ID, w.alice.ID
	cases := []struct {
		name  string
		sql   []string
		args  [][]any
		wants error
	}{
		{"demote the owner", []string{"UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?"},
			[][]any{{acme, alice}}, models.ErrOwnerNotSuperAdmin},
		{"remove the owner", []string{"DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?"},
			[][]any{{acme, alice}}, models.ErrOwnerNotSuperAdmin},
		{"give it to an Editor", []string{"UPDATE tenants SET owner_user_id = ? WHERE id = ?"},
			[][]any{{bob.ID, acme}}, models.ErrOwnerNotSuperAdmin},
		{"give it to someone outside", []string{"UPDATE tenants SET owner_user_id = ? WHERE id = ?"},
			[][]any{{outsider.ID, acme}}, models.ErrOwnerNotSuperAdmin},
		{"transfer, then demote the new owner", []string{
			"UPDATE tenants SET owner_user_id = ? WHERE id = ?",
			"UPDATE memberships SET role = 'super_admin' WHERE tenant_id = ? AND user_id = ?",
			"UPDATE memberships SET role = 'admin' WHERE tenant_id = ? AND user_id = ?"},
			[][]any{{bob.ID, acme}, {acme, bob.ID}, {acme, bob.ID}}, models.ErrOwnerNotSuperAdmin},
		// Allowed, and left as they were by the rollback below.
		{"transfer, owner first", []string{
			"UPDATE tenants SET owner_user_id = ? WHERE id = ?",
			"UPDATE memberships SET role = 'super_admin' WHERE tenant_id = ? AND user_id = ?"},
			[][]any{{bob.ID, acme}, {acme, bob.ID}}, nil},
		{"transfer, role first", []string{
			"UPDATE memberships SET role = 'super_admin' WHERE tenant_id = ? AND user_id = ?",
			"UPDATE tenants SET owner_user_id = ? WHERE id = ?"},
			[][]any{{acme, bob.ID}, {bob.ID, acme}}, nil},
		{"demote someone else", []string{"UPDATE memberships SET role = 'viewer' WHERE tenant_id = ? AND user_id = ?"},
			[][]any{{acme, bob.ID}}, nil},
	}
	for _, c := range cases {
		err := w.store.Tx(ctx, func(tx *models.Store) error {
			for i, stmt := range c.sql {
				if err := tx.ExecForTest(ctx, stmt, c.args[i]...); err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case c.wants == nil && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wants != nil && !errors.Is(err, c.wants):
			t.Errorf("%s: err = %v, want %v", c.name, err, c.wants)
		}
		if broken := ownerInvariantBroken(t, w.store.DBForTest(ctx)); len(broken) > 0 {
			t.Fatalf("%s: committed owners who are not Super Admins: %v", c.name, broken)
		}
		// Put Acme back as it was: alice owns it, bob is an Editor.
		err = w.store.Tx(ctx, func(tx *models.Store) error {
			return errors.Join(tx.ExecForTest(ctx, "UPDATE tenants SET owner_user_id = ? WHERE id = ?", alice, acme),
				tx.ExecForTest(ctx, "UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?", acme, bob.ID))
		})
		if err != nil {
			t.Fatalf("%s: putting Acme back: %v", c.name, err)
		}
	}
}

// On Postgres the check runs at the commit, when the transaction may see
// another scope than the one it changed the company in (an invitation is
// accepted inside its company, then the request's scope is put back): it
// must judge the company's memberships all the same, as the application
// role, under row-level security.
func TestOwnerCheckSeesTheCompanyWhateverTheScope(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("scopes are Postgres's; set " + testdb.EnvVar)
	}
	w := newRLSWorld(t)
	acme := w.tenant["acme"]
	var alice, bob int64
	for email, id := range map[string]*int64{"alice@acme.test": &alice, "bob@globex.test": &bob} {
		if err := w.owner.Raw("SELECT id FROM users WHERE email = ?", email).Scan(id).Error; err != nil {
			t.Fatal(err)
		}
	}
	// Acme's owner given up and taken back: valid, but checked at the commit.
	transfer := func(db *gorm.DB) error {
		return errors.Join(db.Exec("UPDATE tenants SET owner_user_id = NULL WHERE id = ?", acme).Error,
			db.Exec("UPDATE tenants SET owner_user_id = ? WHERE id = ?", alice, acme).Error)
	}
	demote := func(db *gorm.DB) error {
		return db.Exec("UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?", acme, alice).Error
	}
	for _, c := range []struct {
		name   string
		change func(db *gorm.DB) error
		wants  error
	}{
		{"a valid change", transfer, nil},
		{"a demoted owner", demote, models.ErrOwnerNotSuperAdmin},
	} {
		err := w.app.Request(context.Background(), func(ctx context.Context) error {
			ctx, err := w.app.SetScope(ctx, models.Scope{TenantID: acme})
			if err != nil {
				return err
			}
			if err := c.change(w.app.DBForTest(ctx)); err != nil {
				return err
			}
			_, err = w.app.SetScope(ctx, models.Scope{UserID: bob}) // sees none of Acme's other members
			return err
		})
		if !errors.Is(err, c.wants) && (c.wants != nil || err != nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.wants)
		}
	}
}

// memberRace is one of the changes two administrators (or the member
// themself) can make to one member at the same moment.
type memberRace struct {
	name string
	run  func(r raceRound) error
}

// raceRound is what one round of TestOwnerInvariantUnderConcurrency races
// over: a fresh member, and the company's owner as the round begins.
type raceRound struct {
	owner  *models.User
	member *models.Membership
}

// Two administrators acting on one member at the same moment — the owner
// handing the company to them while others remove them, change their role or
// edit them, and they leave — never leave a company whose owner is not its Super Admin, and
// each is either done or refused for a reason a page explains; never the
// database's last-resort check, a deadlock or a server error. (Without the
// locks of lockTeam, the database's check refuses some commits, which this
// test counts as failures.)
func TestOwnerInvariantUnderConcurrency(t *testing.T) {
	t.Parallel()
	owner, app := testdb.OpenAsApp(t)
	setup := models.NewStore(owner)
	store := models.NewStore(app).WithScopeKey(testdb.ScopeKey)
	ctx := context.Background()
	staff := mustUser(t, setup, "staff@canopy.test")
	platform, err := setup.CreateTenant(ctx, models.NewTenant{Name: "Platform", Subdomain: "admin", Timezone: "UTC", OwnerUserID: staff.ID})
	if err != nil {
		t.Fatal(err)
	}
	first := mustUser(t, setup, "owner@acme.test")
	acme, err := setup.CreateTenant(ctx, models.NewTenant{ParentID: platform.ID, Name: "Acme Corp", Subdomain: "acme", Timezone: "UTC", OwnerUserID: first.ID})
	if err != nil {
		t.Fatal(err)
	}
	var admins [2]*models.User
	for i := range admins {
		admins[i] = mustUser(t, setup, fmt.Sprintf("super%d@acme.test", i))
		if _, err := setup.AddMember(ctx, acme.ID, admins[i].ID, models.RoleSuperAdmin); err != nil {
			t.Fatal(err)
		}
	}
	// as is a request of who in Acme: their actor and their scope.
	as := func(who *models.User) context.Context {
		ctx := models.WithActor(context.Background(), models.Actor{UserID: who.ID, Email: who.Email})
		return models.WithScope(ctx, models.Scope{TenantID: acme.ID, UserID: who.ID})
	}
	change := func(by *models.User, r raceRound) models.MemberChange {
		return models.MemberChange{TenantID: acme.ID, ActorUserID: by.ID, ActorRole: models.RoleSuperAdmin, MembershipID: r.member.ID}
	}
	races := []memberRace{
		{"transfer", func(r raceRound) error {
			_, err := store.TransferOwnership(as(r.owner), acme.ID, r.owner.ID, r.member.ID)
			return err
		}},
		{"remove", func(r raceRound) error {
			return store.RemoveMembership(as(admins[0]), change(admins[0], r))
		}},
		{"change role", func(r raceRound) error {
			return store.ChangeRole(as(admins[1]), change(admins[1], r), models.RoleEditor)
		}},
		{"edit", func(r raceRound) error {
			return store.UpdateMember(as(admins[0]), change(admins[0], r), models.MemberUpdate{Role: models.RoleViewer})
		}},
		{"leave", func(r raceRound) error {
			return store.LeaveCompany(as(&models.User{ID: r.member.UserID}), acme.ID, r.member.UserID)
		}},
	}
	// Refusals a page explains: the member was removed (or left), or became
	// the owner.
	explained := []error{models.ErrNotFound, models.ErrOwnerIsFixed, models.ErrOwnerCannotLeave}
	currentOwner := first
	for round := range 50 {
		member := mustUser(t, setup, fmt.Sprintf("member%d@acme.test", round))
		m, err := setup.AddMember(ctx, acme.ID, member.ID, models.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		r := raceRound{owner: currentOwner, member: m}
		start := make(chan struct{})
		errs := make([]error, len(races))
		var wg sync.WaitGroup
		for i, race := range races {
			wg.Go(func() {
				<-start
				errs[i] = race.run(r)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil && !isOneOf(err, explained) {
				t.Errorf("round %d, %s: %v", round, races[i].name, err)
			}
		}
		if broken := ownerInvariantBroken(t, owner); len(broken) > 0 {
			t.Fatalf("round %d: owners who are not Super Admins in %v (errors %v)", round, broken, errs)
		}
		if errs[0] == nil {
			currentOwner = member
		}
	}
}

func isOneOf(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// Data from before the database checked owners survives the migration, and
// platform staff repair it: one of the company's members becomes its owner
// and Super Admin, audited; nobody else may.
func TestStaffRepairACompanysOwner(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@acme.test")
	bobAtAcme, err := w.store.AddMember(ctx, w.acme.ID, bob.ID, models.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	carol := mustUser(t, w.store, "carol@acme.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, carol.ID, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	aliceAtAcme, _ := w.store.MembershipOf(ctx, w.acme.ID, w.alice.ID)
	if err := w.store.MigrateDownToForTest(ctx, 12); err != nil { // before 00013, which checks owners
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "UPDATE memberships SET role = 'editor' WHERE id = ?", aliceAtAcme.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.MigrateForTest(ctx); err != nil {
		t.Fatalf("the migration failed on an owner who is an Editor: %v", err)
	}
	if broken := ownerInvariantBroken(t, w.store.DBForTest(ctx)); len(broken) != 1 || broken[0] != "acme" {
		t.Fatalf("before the repair, broken: %v", broken)
	}
	// Acme's other members can still be changed meanwhile.
	if err := w.store.UpdateMember(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: carol.ID, ActorRole: models.RoleAdmin, MembershipID: bobAtAcme.ID},
		models.MemberUpdate{Role: models.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: mustUser(t, w.store, "gail@globex.test").ID})
	if err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		name                 string
		from, company, which int64
		want                 error
	}{
		{"from a customer's tenant", w.acme.ID, w.acme.ID, bobAtAcme.ID, models.ErrNotFound},
		{"a member of another company", w.platform.ID, globex.ID, bobAtAcme.ID, models.ErrNotFound},
		{"the platform itself", w.platform.ID, w.platform.ID, bobAtAcme.ID, models.ErrNotFound},
	}
	for _, c := range refused {
		if _, err := w.store.SetCompanyOwner(ctx, c.from, c.company, c.which); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	staffUser, err := w.store.UserByEmail(ctx, "staff@canopy.test")
	if err != nil {
		t.Fatal(err)
	}
	staff := models.WithActor(ctx, models.Actor{UserID: staffUser.ID, Email: staffUser.Email})
	owner, err := w.store.SetCompanyOwner(staff, w.platform.ID, w.acme.ID, bobAtAcme.ID)
	if err != nil {
		t.Fatal(err)
	}
	if owner.ID != bob.ID {
		t.Fatalf("owner is %s, want bob", owner.Email)
	}
	if broken := ownerInvariantBroken(t, w.store.DBForTest(ctx)); len(broken) != 0 {
		t.Fatalf("after the repair, broken: %v", broken)
	}
	if m, _ := w.store.MembershipOf(ctx, w.acme.ID, bob.ID); m.Role != models.RoleSuperAdmin {
		t.Fatalf("the new owner is %s", m.Role)
	}
	events := auditEvents(t, w.store, w.acme.ID, models.AuditOwnershipTransferred)
	if len(events) != 1 || events[0].ActorEmail != "staff@canopy.test" {
		t.Fatalf("ownership events %+v", events)
	}
}

// On SQLite the refusal is a deferred foreign key's, checked by SQLite at
// the COMMIT itself (the store checks the same before it commits, so that
// it can roll back): statements sent straight to the database are refused.
func TestSQLiteForeignKeyRefusesAnOwnerWhoIsNotSuperAdmin(t *testing.T) {
	t.Parallel()
	if os.Getenv(testdb.EnvVar) != "" {
		t.Skip("the foreign key is SQLite's; Postgres's constraint trigger is tested above")
	}
	w := newWorld(t)
	ctx := context.Background()
	sqlDB, err := w.store.DBForTest(ctx).DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?",
		"DELETE FROM memberships WHERE tenant_id = ? AND user_id = ?",
	} {
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.ExecContext(ctx, "BEGIN")
		if err == nil {
			_, err = conn.ExecContext(ctx, stmt, w.acme.ID, w.alice.ID)
		}
		if err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
		if _, err := conn.ExecContext(ctx, "COMMIT"); err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
			t.Errorf("%s: COMMIT answered %v, want a foreign key failure", stmt, err)
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Errorf("%s: rollback: %v", stmt, err)
		}
		_ = conn.Close()
		if broken := ownerInvariantBroken(t, w.store.DBForTest(ctx)); len(broken) > 0 {
			t.Fatalf("%s: committed %v", stmt, broken)
		}
	}
}
