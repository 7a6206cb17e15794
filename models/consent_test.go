package models_test

import (
	"context"
	"errors"
	"testing"

	"canopy/models"
)

// additionsOf lists what the user's notices say, as "adder → company as role".
func additionsOf(t *testing.T, w world, userID int64) []string {
	t.Helper()
	list, err := w.store.UnacknowledgedAdditions(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.AddedByName+" → "+a.TenantName+" as "+a.Role.Label())
	}
	return out
}

// TestOnlyAdditionsBySomeoneElseAreNoticed: someone added at once by
// another person gets a notice naming who, where and as what, one per
// company; joining by accepting an invitation or by owning a new company
// gives none, and neither do memberships made without an adder.
func TestOnlyAdditionsBySomeoneElseAreNoticed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	bob := mustUser(t, w.store, "bob@globex.test")
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	carol := mustUser(t, w.store, "carol@initech.test")
	if got := additionsOf(t, w, carol.ID); len(got) != 0 {
		t.Fatalf("carol has notices before anyone added her: %v", got)
	}
	if got := additionsOf(t, w, bob.ID); len(got) != 0 {
		t.Fatalf("owning a company made a notice: %v", got)
	}
	if _, err := w.store.Invite(ctx, invite(w, "carol@initech.test", models.RoleEditor), mail.build); err != nil {
		t.Fatal(err)
	}
	byBob := models.InviteRequest{TenantID: globex.ID, InviterID: bob.ID, InviterRole: models.RoleSuperAdmin,
		Email: "carol@initech.test", FirstName: "Carol", LastName: "C", Role: models.RoleViewer}
	if _, err := w.store.Invite(ctx, byBob, mail.build); err != nil {
		t.Fatal(err)
	}
	// Alice's name is "Test" (mustUser), as is Bob's.
	want := []string{"Test → Acme Corp as Editor", "Test → Globex as Viewer"}
	if got := additionsOf(t, w, carol.ID); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("carol's notices %v, want %v", got, want)
	}
	m, err := w.store.MembershipOf(ctx, globex.ID, carol.ID)
	if err != nil || m.AddedByUserID == nil || *m.AddedByUserID != bob.ID || m.AcknowledgedAt != nil {
		t.Fatalf("the membership does not record who added carol: %+v, %v", m, err)
	}

	// Accepting an invitation is consent: no notice.
	if _, err := w.store.Invite(ctx, invite(w, "newcomer@acme.test", models.RoleViewer), mail.build); err != nil {
		t.Fatal(err)
	}
	acc, err := w.store.AcceptInvitation(ctx, mail.last(), models.NewUser{FirstName: "New", Password: "a-long-password"})
	if err != nil {
		t.Fatal(err)
	}
	if got := additionsOf(t, w, acc.User.ID); len(got) != 0 {
		t.Fatalf("accepting an invitation made a notice: %v", got)
	}
}

// TestAcknowledgingAnAdditionEndsItsNotice: Got it ends that company's
// notice only, keeps the membership, and changes nothing the second time;
// a company the person is not in is not found.
func TestAcknowledgingAnAdditionEndsItsNotice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	bob := mustUser(t, w.store, "bob@globex.test")
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	carol := mustUser(t, w.store, "carol@initech.test")
	if _, err := w.store.Invite(ctx, invite(w, carol.Email, models.RoleEditor), mail.build); err != nil {
		t.Fatal(err)
	}
	byBob := models.InviteRequest{TenantID: globex.ID, InviterID: bob.ID, InviterRole: models.RoleSuperAdmin,
		Email: carol.Email, FirstName: "Carol", LastName: "C", Role: models.RoleViewer}
	if _, err := w.store.Invite(ctx, byBob, mail.build); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := w.store.AcknowledgeAddition(ctx, w.acme.ID, carol.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := additionsOf(t, w, carol.ID); len(got) != 1 || got[0] != "Test → Globex as Viewer" {
		t.Fatalf("after Got it on Acme: %v", got)
	}
	if m, err := w.store.MembershipOf(ctx, w.acme.ID, carol.ID); err != nil || m.AcknowledgedAt == nil {
		t.Fatalf("acknowledging lost the membership or did not record it: %+v, %v", m, err)
	}
	stranger := mustUser(t, w.store, "stranger@else.test")
	if err := w.store.AcknowledgeAddition(ctx, globex.ID, stranger.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("acknowledging a company one is not in: %v, want not found", err)
	}
}

// TestLeaveCompany: a member leaves a company at their own request, audited
// as member.left by them; the owner is refused and stays; someone who is
// not a member is not found and nothing changes.
func TestLeaveCompany(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	carol := mustUser(t, w.store, "carol@initech.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, carol.ID, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	stranger := mustUser(t, w.store, "stranger@else.test")
	cases := []struct {
		name   string
		userID int64
		want   error
		member bool // still a member afterwards
	}{
		{"the owner", w.alice.ID, models.ErrOwnerCannotLeave, true},
		{"not a member", stranger.ID, models.ErrNotFound, false},
		{"a member", carol.ID, nil, false},
		{"a member who already left", carol.ID, models.ErrNotFound, false},
	}
	for _, c := range cases {
		asThem := models.WithActor(ctx, models.Actor{UserID: c.userID, Email: "them@test"})
		err := w.store.LeaveCompany(asThem, w.acme.ID, c.userID)
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		_, err = w.store.MembershipOf(ctx, w.acme.ID, c.userID)
		if member := err == nil; member != c.member {
			t.Errorf("%s: a member afterwards: %v, want %v", c.name, member, c.member)
		}
	}
	events, err := w.store.AuditLog(ctx, w.acme.ID, false, models.AuditFilter{Action: models.AuditMemberLeft}, models.ParsePage("", 10))
	if err != nil {
		t.Fatal(err)
	}
	if len(events.Items) != 1 || events.Items[0].TargetLabel != carol.Email || events.Items[0].ActorUserID == nil || *events.Items[0].ActorUserID != carol.ID {
		t.Fatalf("member.left events %+v, want one by and about carol", events.Items)
	}
}
