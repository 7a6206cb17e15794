package models_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/models"
)

// companyOrderWorld is the deeper tree with pat, a member of every company
// but the platform, and of more than the toggle shows: Acme Corp → Acme
// Europe → Acme Europe Lab, Globex → Globex EU, and Filler 00…21 under
// Globex.
type companyOrderWorld struct {
	tree
	pat, bob *models.User
}

func newCompanyOrderWorld(t *testing.T) companyOrderWorld {
	t.Helper()
	ctx := context.Background()
	w := companyOrderWorld{tree: newTree(t)}
	w.pat = mustUser(t, w.store, "pat@many.test")
	w.bob = mustUser(t, w.store, "bob@globex.test")
	for _, tn := range []*models.Tenant{w.acme, w.eu, w.euLab, w.globex, w.globexEU} {
		if _, err := w.store.AddMember(ctx, tn.ID, w.pat.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	for i := range models.ToggleSize + 2 {
		w.addCompany(t, w.globex, fmt.Sprintf("Filler %02d", i), fmt.Sprintf("filler-%02d", i))
	}
	return w
}

// addCompany makes a company below parent and pat a member of it.
func (w companyOrderWorld) addCompany(t *testing.T, parent *models.Tenant, name, sub string) *models.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: parent.ID, Name: name, Subdomain: sub, Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.AddMember(ctx, tn.ID, w.pat.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	return tn
}

// rename changes a tenant's name as the schema's owner would by hand: the
// application never renames a company (the name is fixed once made, which
// the tenants_immutable trigger enforces), so the rule is lifted for this
// database first. The memberships must follow all the same.
func (w companyOrderWorld) rename(t *testing.T, tn *models.Tenant, name string) {
	t.Helper()
	db := w.store.DBForTest(context.Background())
	lift := "DROP TRIGGER IF EXISTS tenants_immutable"
	if w.store.Dialect() == models.Postgres {
		lift = "ALTER TABLE tenants DISABLE TRIGGER tenants_immutable"
	}
	if err := db.Exec(lift).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Exec("UPDATE tenants SET name = ? WHERE id = ?", name, tn.ID).Error; err != nil {
		t.Fatal(err)
	}
	tn.Name = name
}

// listed is one of a person's companies as the lists must show it, worked
// out the long way: each company's lineage walked up (not inactive_above,
// nor the memberships' copies), sorted in Go.
type listed struct {
	id        int64
	name      string
	reachable bool
	owner     int64
}

// expectedCompanies is every company the user is a member of, reachable or
// not, by lower-case name, then id.
func expectedCompanies(t *testing.T, store *models.Store, userID int64) []listed {
	t.Helper()
	ctx := context.Background()
	var ids []int64
	if err := store.DBForTest(ctx).Raw("SELECT tenant_id FROM memberships WHERE user_id = ?", userID).Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	out := make([]listed, 0, len(ids))
	for _, id := range ids {
		l, err := store.LineageByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c := listed{id: id, name: l.Tenant().Name, reachable: l.Reachable()}
		if o := l.Tenant().OwnerUserID; o != nil {
			c.owner = *o
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b listed) int {
		return cmp.Or(strings.Compare(strings.ToLower(a.name), strings.ToLower(b.name)), cmp.Compare(a.id, b.id))
	})
	return out
}

// checkMembershipCopies: every membership in the database carries its
// company's lower-case name and whether it can be entered, as its lineage
// says.
func checkMembershipCopies(t *testing.T, store *models.Store) {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		ID              int64
		TenantID        int64
		TenantSortName  string
		TenantReachable bool
	}
	if err := store.DBForTest(ctx).Raw("SELECT id, tenant_id, tenant_sort_name, tenant_reachable FROM memberships").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		l, err := store.LineageByID(ctx, r.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.ToLower(l.Tenant().Name); r.TenantSortName != want || r.TenantReachable != l.Reachable() {
			t.Errorf("membership %d of %q: sort name %q, reachable %v; want %q, %v",
				r.ID, l.Tenant().Name, r.TenantSortName, r.TenantReachable, want, l.Reachable())
		}
	}
}

// checkCompanyLists: the toggle, the Companies page (both of its lists) and
// the landing company show exactly what expectedCompanies says, in its
// order, with the right counts.
func checkCompanyLists(t *testing.T, store *models.Store, u *models.User, current int64) {
	t.Helper()
	ctx := context.Background()
	var reachable []listed
	for _, c := range expectedCompanies(t, store, u.ID) {
		if c.reachable {
			reachable = append(reachable, c)
		}
	}
	names := func(cs []listed) []string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.name
		}
		return out
	}
	// The toggle: the current company first, when it is one of them.
	shown := slices.Clone(reachable)
	if i := slices.IndexFunc(shown, func(c listed) bool { return c.id == current }); i > 0 {
		shown = slices.Insert(slices.Delete(shown, i, i+1), 0, reachable[i])
	}
	shown = shown[:min(len(shown), models.ToggleSize)]
	toggle, err := store.CompanyToggle(ctx, u.ID, current)
	if err != nil {
		t.Fatal(err)
	}
	additions, err := store.UnacknowledgedAdditions(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range toggle.Companies {
		got = append(got, c.Name)
	}
	wantAdditions := int64(len(additions))
	if len(reachable) == 0 {
		wantAdditions = 0 // an empty toggle is not shown, nor are its counts
	}
	if !slices.Equal(got, names(shown)) || toggle.Total != int64(len(reachable)) || toggle.Additions != wantAdditions {
		t.Errorf("toggle: %v, total %d, additions %d; want %v, %d, %d",
			got, toggle.Total, toggle.Additions, names(shown), len(reachable), wantAdditions)
	}

	page := models.PageRequest{Number: 1, Size: models.CompanyPageSize}
	first := reachable[:min(len(reachable), page.Size)]
	found, err := store.SearchCompanies(ctx, u.ID, "", page)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range found.Items {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names(first)) || found.Total != int64(len(reachable)) {
		t.Errorf("companies page: %v of %d; want %v of %d", got, found.Total, names(first), len(reachable))
	}
	profile, err := store.ProfileCompanies(ctx, u.ID, page)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, c := range profile.Items {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, names(first)) || profile.Total != int64(len(reachable)) {
		t.Errorf("companies page with roles: %v of %d; want %v of %d", got, profile.Total, names(first), len(reachable))
	}

	// Landing: the last company, else the owned one, else the first.
	var want *listed
	for _, pick := range []func(c listed) bool{
		func(c listed) bool { return u.LastTenantID != nil && c.id == *u.LastTenantID },
		func(c listed) bool { return c.owner == u.ID },
		func(listed) bool { return true },
	} {
		if i := slices.IndexFunc(reachable, pick); i >= 0 {
			want = &reachable[i]
			break
		}
	}
	landing, err := store.LandingTenant(ctx, u)
	switch {
	case want == nil && !errors.Is(err, models.ErrNotFound):
		t.Errorf("landing company: %+v (%v), want none", landing, err)
	case want != nil && (err != nil || landing.ID != want.id):
		t.Errorf("landing company: %q (%v), want %q", landing.Name, err, want.name)
	}
}

// TestMembershipsFollowTheirCompany: each membership's copy of its
// company's name and reachability, which the lists of a person's companies
// read, stays right through every change that moves it, and the lists show
// what the tenants themselves say.
func TestMembershipsFollowTheirCompany(t *testing.T) {
	w := newCompanyOrderWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	var annex, initech *models.Tenant
	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"as made", func(*testing.T) {}},
		{"a new membership", func(t *testing.T) { w.addCompany(t, w.platform, "Zeta Works", "zeta") }},
		{"renamed, to first place", func(t *testing.T) { w.rename(t, w.eu, "aardvark Europe") }},
		{"renamed in case only", func(t *testing.T) { w.rename(t, w.globex, "GLOBEX") }},
		{"a company above deactivated", func(t *testing.T) {
			if _, err := w.store.SetSubTenantStatus(ctx, w.platform.ID, w.acme.ID, models.TenantInactive); err != nil {
				t.Fatal(err)
			}
		}},
		{"a company made below the inactive one", func(t *testing.T) {
			annex = w.addCompany(t, w.euLab, "Lab Annex", "lab-annex")
		}},
		{"the company above reactivated", func(t *testing.T) {
			if _, err := w.store.SetSubTenantStatus(ctx, w.platform.ID, w.acme.ID, models.TenantActive); err != nil {
				t.Fatal(err)
			}
		}},
		{"a company deactivated itself, with one below it", func(t *testing.T) {
			if _, err := w.store.SetSubTenantStatus(ctx, w.eu.ID, w.euLab.ID, models.TenantInactive); err != nil {
				t.Fatal(err)
			}
			if l, err := w.store.LineageByID(ctx, annex.ID); err != nil || l.Reachable() {
				t.Fatalf("the annex below the lab is reachable (%v)", err)
			}
		}},
		{"the company above deactivated too, then reactivated", func(t *testing.T) {
			for _, s := range []models.TenantStatus{models.TenantInactive, models.TenantActive} {
				if _, err := w.store.SetSubTenantStatus(ctx, w.acme.ID, w.eu.ID, s); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"the company reactivated itself", func(t *testing.T) {
			if _, err := w.store.SetSubTenantStatus(ctx, w.eu.ID, w.euLab.ID, models.TenantActive); err != nil {
				t.Fatal(err)
			}
		}},
		{"added by someone else, unacknowledged", func(t *testing.T) {
			var err error
			if initech, err = w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Initech",
				Subdomain: "initech", Timezone: "UTC", OwnerUserID: w.bob.ID}); err != nil {
				t.Fatal(err)
			}
			byBob := models.InviteRequest{TenantID: initech.ID, InviterID: w.bob.ID, InviterRole: models.RoleSuperAdmin,
				Email: w.pat.Email, FirstName: "Pat", LastName: "P", Role: models.RoleViewer}
			if _, err := w.store.Invite(ctx, byBob, mail.build); err != nil {
				t.Fatal(err)
			}
		}},
		{"left", func(t *testing.T) {
			if err := w.store.LeaveCompany(ctx, initech.ID, w.pat.ID); err != nil {
				t.Fatal(err)
			}
			if err := w.store.LeaveCompany(ctx, w.acme.ID, w.pat.ID); err != nil {
				t.Fatal(err)
			}
		}},
		{"owns one, landing there", func(t *testing.T) {
			if _, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Pat's Own",
				Subdomain: "pats-own", Timezone: "UTC", OwnerUserID: w.pat.ID}); err != nil {
				t.Fatal(err)
			}
		}},
		{"last in a company, landing there", func(*testing.T) { w.pat.LastTenantID = &w.globexEU.ID }},
	}
	for _, step := range steps {
		step.do(t)
		checkMembershipCopies(t, w.store)
		for _, current := range []int64{0, w.eu.ID, w.globexEU.ID} {
			t.Run(fmt.Sprintf("%s, at %d", step.name, current), func(t *testing.T) {
				checkCompanyLists(t, w.store, w.pat, current)
			})
		}
		if t.Failed() {
			t.Fatalf("after %q", step.name)
		}
	}
}

// TestMembershipCopiesUnderRowLevelSecurity: connected as the server is,
// under row-level security, the changes that rewrite memberships' copies
// reach every membership of the companies they change — platform staff
// deactivating a company with a subtree, a company's Super Admin one of its
// sub-tenants, a member added — and a transaction that could not see them
// all fails instead of leaving some behind.
func TestMembershipCopiesUnderRowLevelSecurity(t *testing.T) {
	w := newRLSWorld(t)
	owner := models.NewStore(w.owner)
	admin, acme, eu := w.tenant["admin"], w.tenant["acme"], w.tenant["acme-eu"]
	staff := models.Scope{TenantID: admin, Subtree: true, UserID: w.userID(t, "staff@canopy.test")}
	alice := models.Scope{TenantID: acme, Subtree: true, UserID: w.userID(t, "alice@acme.test")}
	request := func(scope models.Scope, fn func(ctx context.Context) error) error {
		return w.app.Request(context.Background(), func(ctx context.Context) error {
			ctx, err := w.app.SetScope(ctx, scope)
			if err != nil {
				return err
			}
			return fn(ctx)
		})
	}
	status := func(scope models.Scope, parent, child int64, s models.TenantStatus) error {
		return request(scope, func(ctx context.Context) error {
			_, err := w.app.SetSubTenantStatus(ctx, parent, child, s)
			return err
		})
	}
	unreachable := func() int64 {
		t.Helper()
		var n int64
		if err := w.owner.Raw("SELECT count(*) FROM memberships WHERE NOT tenant_reachable").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	newcomer := w.userID(t, "dave@acme.test")
	steps := []struct {
		name string
		do   func() error
	}{
		{"staff deactivate Acme and its subtree", func() error { return status(staff, admin, acme, models.TenantInactive) }},
		{"staff reactivate it", func() error { return status(staff, admin, acme, models.TenantActive) }},
		{"Acme's Super Admin deactivates Acme Europe", func() error { return status(alice, acme, eu, models.TenantInactive) }},
		{"a member added below the inactive one", func() error {
			return request(models.Scope{TenantID: eu, Subtree: true, UserID: alice.UserID}, func(ctx context.Context) error {
				_, err := w.app.AddMember(ctx, eu, newcomer, models.RoleViewer)
				return err
			})
		}},
		{"Acme's Super Admin reactivates Acme Europe", func() error { return status(alice, acme, eu, models.TenantActive) }},
	}
	for _, step := range steps {
		before := unreachable()
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		checkMembershipCopies(t, owner)
		if step.name == "staff deactivate Acme and its subtree" && unreachable() <= before {
			t.Fatalf("%s: no membership became unreachable", step.name)
		}
		if t.Failed() {
			t.Fatalf("after %q", step.name)
		}
	}

	// A member count that disagrees with the memberships rewritten stops the change.
	if err := w.owner.Exec("UPDATE tenants SET member_count = member_count + 1 WHERE id = ?", eu).Error; err != nil {
		t.Fatal(err)
	}
	if err := status(alice, acme, eu, models.TenantInactive); err == nil || !strings.Contains(err.Error(), "not visible to this transaction") {
		t.Fatalf("a change that missed a membership: %v", err)
	}
	checkMembershipCopies(t, owner)
}

// TestMembershipMadeWhileItsCompanyChanges: a membership inserted while
// another transaction is deactivating its company waits for it, and takes
// the company as that transaction left it; otherwise the deactivation
// would rewrite the company's memberships without seeing this one, and the
// new one would keep the status from before.
func TestMembershipMadeWhileItsCompanyChanges(t *testing.T) {
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("transactions at once are Postgres's; set " + testdb.EnvVar)
	}
	w := newTree(t)
	ctx := context.Background()
	db := w.store.DBForTest(ctx)
	newcomer := mustUser(t, w.store, "newcomer@acme.test")

	deactivating := db.Begin()
	defer deactivating.Rollback()
	if err := deactivating.Exec("UPDATE tenants SET status = 'inactive' WHERE id = ?", w.eu.ID).Error; err != nil {
		t.Fatal(err)
	}
	inserted := make(chan error, 1)
	go func() {
		inserted <- db.Exec("INSERT INTO memberships (tenant_id, user_id, role) VALUES (?, ?, 'viewer')", w.eu.ID, newcomer.ID).Error
	}()
	// The insert must be waiting for the deactivation before it commits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int64
		if err := db.Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO memberships%'`).Scan(&waiting).Error; err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-inserted:
			t.Fatalf("the membership was made without waiting for its company's change (err %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert never waited")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := deactivating.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	checkMembershipCopies(t, w.store)
}

// TestMembershipsCopyOfTheirCompanyIsNotWritable: the copy of a company's
// name and reachability on its memberships is the database's own; a
// statement that writes it gets its tenant's values back, so no one can
// hide a company from a person's lists or show one that cannot be entered.
func TestMembershipsCopyOfTheirCompanyIsNotWritable(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	before, err := w.store.CompanyToggle(ctx, w.alice.ID, 0)
	if err != nil || len(before.Companies) == 0 {
		t.Fatalf("toggle %+v, %v", before, err)
	}
	for _, write := range []string{
		"UPDATE memberships SET tenant_reachable = false WHERE user_id = ?",
		"UPDATE memberships SET tenant_sort_name = 'zzz' WHERE user_id = ?",
	} {
		if err := w.store.ExecForTest(ctx, write, w.alice.ID); err != nil {
			t.Fatal(err)
		}
		after, err := w.store.CompanyToggle(ctx, w.alice.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("%s: the toggle became %+v, was %+v", write, after, before)
		}
	}
}
