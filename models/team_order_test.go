package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"canopy/models"
)

// teamWorld is Acme with members and invitations of every kind the team
// list tells apart, named so that case, ties and empty names decide the
// order.
type teamWorld struct {
	world
	users map[string]*models.User // by email
}

func newTeamWorld(t *testing.T) teamWorld {
	t.Helper()
	w := teamWorld{world: newWorld(t), users: map[string]*models.User{}}
	ctx := context.Background()
	// alice@acme.test, the owner, is "Test" with no last name.
	for _, p := range []struct{ email, first, last string }{
		{"bob@acme.test", "bob", "Zed"},
		{"bob.b@acme.test", "bob", "Adams"},
		{"bob.adams@acme.test", "Bob", "adams"}, // the same name as bob.b, ignoring case: the email decides
		{"carol@acme.test", "Carol", ""},
		{"nobody@acme.test", "Nobody", ""}, // no name at all, below: first of the list
		{"frank@ext.test", "Frank", "Member"},
	} {
		u, err := w.store.CreateUser(ctx, models.NewUser{Email: p.email, FirstName: p.first, LastName: p.last, Password: "a-long-password"})
		if err != nil {
			t.Fatal(err)
		}
		w.users[p.email] = u
	}
	mail := &sentMail{}
	for _, inv := range []struct{ email, first, last string }{
		{"ann@ext.test", "Ann", "Open"},
		{"al@ext.test", "Al", "Late"},
		{"dee@ext.test", "Dee", "Clined"},
		{"eve@ext.test", "Eve", "Again"},
		{"frank@ext.test", "Frank", "Member"},
		{"rex@ext.test", "Rex", "Voked"},
	} {
		req := models.InviteRequest{TenantID: w.acme.ID, InviterID: w.alice.ID, InviterRole: models.RoleSuperAdmin,
			Email: inv.email, FirstName: inv.first, LastName: inv.last, Role: models.RoleViewer}
		if inv.email == "frank@ext.test" {
			req.MakesOwner = true // frank has an account: without this he would be added at once
		}
		if _, err := w.store.Invite(ctx, req, mail.build); err != nil {
			t.Fatalf("invite %s: %v", inv.email, err)
		}
	}
	for _, members := range []string{"bob@acme.test", "bob.b@acme.test", "bob.adams@acme.test", "carol@acme.test", "nobody@acme.test", "frank@ext.test"} {
		if _, err := w.store.AddMember(ctx, w.acme.ID, w.users[members].ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := w.store.ExecForTest(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Written on users: the copy each membership carries follows.
	exec("UPDATE users SET first_name = '', last_name = '' WHERE email = 'nobody@acme.test'")
	exec("UPDATE users SET two_factor_enabled = ? WHERE email = 'carol@acme.test'", true)
	exec("UPDATE invitations SET expires_at = ? WHERE email = 'al@ext.test'", time.Now().UTC().Add(-time.Minute))
	exec("UPDATE invitations SET status = 'declined' WHERE email IN ('dee@ext.test', 'eve@ext.test')")
	exec("UPDATE invitations SET status = 'revoked' WHERE email = 'rex@ext.test'")
	// eve declined, then was invited again: only the new invitation shows.
	if _, err := w.store.Invite(ctx, models.InviteRequest{TenantID: w.acme.ID, InviterID: w.alice.ID, InviterRole: models.RoleSuperAdmin,
		Email: "eve@ext.test", FirstName: "Eve", LastName: "Again", Role: models.RoleEditor}, mail.build); err != nil {
		t.Fatal(err)
	}
	return w
}

// teamEmails lists the whole team list, page by page of size, checking
// each page's count.
func teamEmails(t *testing.T, store *models.Store, tenantID int64, f models.TeamFilter, size int) (emails, statuses []string) {
	t.Helper()
	for number := 1; ; number++ {
		page, err := store.TeamFiltered(context.Background(), tenantID, f, models.PageRequest{Number: number, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			emails = append(emails, r.Email)
			statuses = append(statuses, r.Status)
		}
		if page.Total != int64(len(emails)) && len(page.Items) == size {
			continue
		}
		if page.Total != int64(len(emails)) {
			t.Fatalf("filter %+v, size %d, page %d: total %d, listed %d", f, size, number, page.Total, len(emails))
		}
		// One page past the end is empty and still counts everyone.
		past, err := store.TeamFiltered(context.Background(), tenantID, f, models.PageRequest{Number: number + 1, Size: size})
		if err != nil || len(past.Items) != 0 || past.Total != page.Total {
			t.Fatalf("filter %+v, size %d, past the end: %d rows, total %d (%v), want 0 rows, total %d", f, size, len(past.Items), past.Total, err, page.Total)
		}
		return emails, statuses
	}
}

func TestTeamOrderFiltersAndPages(t *testing.T) {
	w := newTeamWorld(t)
	members := []string{"nobody@acme.test", "bob.adams@acme.test", "bob.b@acme.test", "bob@acme.test", "carol@acme.test", "frank@ext.test", "alice@acme.test"}
	cases := []struct {
		name     string
		filter   models.TeamFilter
		want     []string
		statuses []string // of the invitations at the end of want, when any
	}{
		{name: "everyone: members by name, then open, expired and declined invitations",
			want:     append(slices.Clone(members), "ann@ext.test", "eve@ext.test", "al@ext.test", "dee@ext.test"),
			statuses: []string{"invited", "invited", "expired", "declined"}},
		{name: "a search in any case", filter: models.TeamFilter{Query: "BOB"},
			want: []string{"bob.adams@acme.test", "bob.b@acme.test", "bob@acme.test"}},
		{name: "a search across first and last name", filter: models.TeamFilter{Query: "bob adams"},
			want: []string{"bob.adams@acme.test", "bob.b@acme.test"}},
		{name: "a search of invitations", filter: models.TeamFilter{Query: "ext.test"},
			want:     []string{"frank@ext.test", "ann@ext.test", "eve@ext.test", "al@ext.test", "dee@ext.test"},
			statuses: []string{"invited", "invited", "expired", "declined"}},
		{name: "a search by an invitee's name", filter: models.TeamFilter{Query: "clined"},
			want: []string{"dee@ext.test"}, statuses: []string{"declined"}},
		{name: "wildcards match themselves", filter: models.TeamFilter{Query: "%"}},
		{name: "members without a second factor", filter: models.TeamFilter{WithoutTwoFactor: true},
			want: slices.DeleteFunc(slices.Clone(members), func(e string) bool { return e == "carol@acme.test" })},
		{name: "without a second factor, searched", filter: models.TeamFilter{WithoutTwoFactor: true, Query: "carol"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int{1, 2, 3, 7, 25} {
				got, statuses := teamEmails(t, w.store, w.acme.ID, c.filter, size)
				if !slices.Equal(got, c.want) {
					t.Fatalf("pages of %d:\n got %v\nwant %v", size, got, c.want)
				}
				if tail := statuses[len(statuses)-len(c.statuses):]; !slices.Equal(tail, c.statuses) {
					t.Fatalf("pages of %d: invitations %v, want %v", size, tail, c.statuses)
				}
			}
		})
	}
}

func TestTeamRowsCarryThePerson(t *testing.T) {
	w := newTeamWorld(t)
	// Within acme's scope, as a request: on PostgreSQL how members sign in
	// is told only to their company's scope.
	var page models.Page[models.TeamRow]
	err := w.store.Within(context.Background(), models.Scope{TenantID: w.acme.ID}, func(ctx context.Context, tx *models.Store) error {
		var err error
		page, err = tx.Team(ctx, w.acme.ID, "", models.PageRequest{Number: 1, Size: 25})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]models.TeamRow{}
	for _, r := range page.Items {
		rows[r.Email] = r
	}
	bob, carol, ann := rows["bob.adams@acme.test"], rows["carol@acme.test"], rows["ann@ext.test"]
	if bob.Kind != "member" || bob.Name() != "Bob adams" || bob.UserID != w.users["bob.adams@acme.test"].ID || bob.Role != models.RoleViewer || bob.Status != "active" {
		t.Errorf("bob.adams: %+v", bob)
	}
	if !carol.TwoFactor || bob.TwoFactor {
		t.Errorf("two-factor: carol %v, bob %v", carol.TwoFactor, bob.TwoFactor)
	}
	if ann.Kind != "invitation" || ann.Name() != "Ann Open" || ann.UserID != 0 || ann.ExpiresAt == nil || ann.TwoFactor || ann.OwnsAnother || ann.SignIn != (models.SignInMethod{}) {
		t.Errorf("ann: %+v", ann)
	}
	if bob.SignIn != (models.SignInMethod{Password: true}) {
		t.Errorf("bob.adams signs in with %+v, want his password", bob.SignIn)
	}
	if n, err := w.store.MembersWithoutTwoFactor(context.Background(), w.acme.ID); err != nil || n != 6 {
		t.Errorf("members without two-factor: %d (%v), want 6", n, err)
	}
}

// TestTeamCopyFollowsThePerson: what the team list shows of a member is the
// copy their membership carries; it follows every change to the person, in
// every company they belong to, and cannot be written on its own.
func TestTeamCopyFollowsThePerson(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, w teamWorld, bob int64)
		check  func(t *testing.T, w teamWorld, team []models.TeamRow, tenantID int64)
	}{
		{name: "a new name moves them in the order",
			change: func(t *testing.T, w teamWorld, bob int64) {
				if err := w.store.UpdateName(ctx, bob, "Aaron", "Zed"); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, w teamWorld, team []models.TeamRow, tenantID int64) {
				at := 0 // Globex has bob alone; at Acme, nobody (no name) comes first
				if tenantID == w.acme.ID {
					at = 1
				}
				if team[at].Email != "bob@acme.test" || team[at].Name() != "Aaron Zed" {
					t.Errorf("row %d: %+v, want bob as Aaron Zed", at, team[at])
				}
			}},
		{name: "a new email shows, and hides the invitation to it",
			change: func(t *testing.T, w teamWorld, bob int64) {
				if err := w.store.ExecForTest(ctx, "UPDATE users SET email = 'ann@ext.test' WHERE id = ?", bob); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, w teamWorld, team []models.TeamRow, tenantID int64) {
				kinds := map[string]string{}
				for _, r := range team {
					kinds[r.Email] += r.Kind
				}
				if kinds["bob@acme.test"] != "" {
					t.Errorf("the old email is still listed")
				}
				if want := "member"; tenantID == w.acme.ID && kinds["ann@ext.test"] != want {
					t.Errorf("ann@ext.test listed as %q, want only the member", kinds["ann@ext.test"])
				}
			}},
		{name: "a second factor shows",
			change: func(t *testing.T, w teamWorld, bob int64) {
				if err := w.store.ExecForTest(ctx, "UPDATE users SET two_factor_enabled = ? WHERE id = ?", true, bob); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, w teamWorld, team []models.TeamRow, _ int64) {
				for _, r := range team {
					if r.UserID == w.users["bob@acme.test"].ID && !r.TwoFactor {
						t.Errorf("bob's row says no second factor")
					}
				}
			}},
		{name: "the copy written on its own is put back",
			change: func(t *testing.T, w teamWorld, bob int64) {
				if err := w.store.ExecForTest(ctx, "UPDATE memberships SET person_email = 'mallory@evil.test', person_first_name = 'A' WHERE user_id = ?", bob); err != nil {
					t.Fatal(err)
				}
			},
			check: func(t *testing.T, w teamWorld, team []models.TeamRow, _ int64) {
				for _, r := range team {
					if r.UserID == w.users["bob@acme.test"].ID && (r.Email != "bob@acme.test" || r.Name() != "bob Zed") {
						t.Errorf("bob's row shows %q <%s>", r.Name(), r.Email)
					}
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newTeamWorld(t)
			bob := w.users["bob@acme.test"].ID
			globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob})
			if err != nil {
				t.Fatal(err)
			}
			c.change(t, w, bob)
			for _, tenantID := range []int64{w.acme.ID, globex.ID} {
				page, err := w.store.Team(ctx, tenantID, "", models.PageRequest{Number: 1, Size: 25})
				if err != nil {
					t.Fatal(err)
				}
				c.check(t, w, page.Items, tenantID)
			}
		})
	}
}

// Migration 00032 goes down and up again: the copies are taken from the
// people as they are, and the list is the same.
func TestTeamMigrationRoundTrip(t *testing.T) {
	w := newTeamWorld(t)
	ctx := context.Background()
	before, _ := teamEmails(t, w.store, w.acme.ID, models.TeamFilter{}, 25)
	if err := w.store.MigrateDownToForTest(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "UPDATE users SET first_name = 'Aaron' WHERE email = 'carol@acme.test'"); err != nil {
		t.Fatal(err)
	}
	if err := w.store.MigrateForTest(ctx); err != nil {
		t.Fatal(err)
	}
	var stale int64
	err := w.store.DBForTest(ctx).Raw(`SELECT count(*) FROM memberships AS m JOIN users AS u ON u.id = m.user_id
		WHERE m.person_first_name <> u.first_name OR m.person_last_name <> u.last_name OR m.person_email <> u.email
		   OR m.person_two_factor <> u.two_factor_enabled`).Scan(&stale).Error
	if err != nil || stale != 0 {
		t.Fatalf("%d memberships carry a wrong copy (%v)", stale, err)
	}
	after, _ := teamEmails(t, w.store, w.acme.ID, models.TeamFilter{}, 25)
	want := append([]string{"nobody@acme.test", "carol@acme.test"}, slices.DeleteFunc(before[1:], func(e string) bool { return e == "carol@acme.test" })...)
	if !slices.Equal(after, want) {
		t.Fatalf("after going down and up:\n got %v\nwant %v", after, want)
	}
}
