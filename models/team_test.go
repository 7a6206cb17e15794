package models_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

func TestTeamTellsExpiredInvitationsFromOpenOnes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mail := &sentMail{}
	for _, email := range []string{"open@acme.test", "late@acme.test"} {
		if _, err := w.store.Invite(ctx, invite(w, email, models.RoleViewer), mail.build); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.ExecForTest(ctx, "UPDATE invitations SET expires_at = ? WHERE email = ?", time.Now().UTC().Add(-time.Minute), "late@acme.test"); err != nil {
		t.Fatal(err)
	}
	page, err := w.store.Team(ctx, w.acme.ID, "", models.ParsePage("", 10))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range page.Items {
		got[r.Email] = r.Status
	}
	if got["open@acme.test"] != "invited" || got["late@acme.test"] != "expired" {
		t.Fatalf("statuses %v", got)
	}
	// An expired invitation still blocks a second one, saying why.
	_, err = w.store.Invite(ctx, invite(w, "late@acme.test", models.RoleViewer), mail.build)
	if msg := fieldError(err, "email"); !strings.Contains(msg, "expired") {
		t.Fatalf("inviting again over an expired invitation: %v", err)
	}
	// Inviting again renews it: open again.
	var lateID int64
	for _, r := range page.Items {
		if r.Email == "late@acme.test" {
			lateID = r.ID
		}
	}
	if err := w.store.ResendInvitation(ctx, w.acme.ID, lateID, models.RoleSuperAdmin, mail.build); err != nil {
		t.Fatal(err)
	}
	page, _ = w.store.Team(ctx, w.acme.ID, "late", models.ParsePage("", 10))
	if len(page.Items) != 1 || page.Items[0].Status != "invited" {
		t.Fatalf("after inviting again: %+v", page.Items)
	}
}

func TestTeamTellsWhoOwnsAnotherCompany(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	carol := mustUser(t, w.store, "carol@acme.test")
	if _, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []*models.User{bob, carol} {
		if _, err := w.store.AddMember(ctx, w.acme.ID, u.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	page, err := w.store.Team(ctx, w.acme.ID, "", models.ParsePage("", 10))
	if err != nil {
		t.Fatal(err)
	}
	owns := map[string]bool{}
	for _, r := range page.Items {
		owns[r.Email] = r.OwnsAnother
	}
	// Alice owns Acme itself, which is not "another".
	want := map[string]bool{"alice@acme.test": false, "bob@globex.test": true, "carol@acme.test": false}
	for email, w := range want {
		if owns[email] != w {
			t.Errorf("%s owns another company: %v, want %v", email, owns[email], w)
		}
	}
}
