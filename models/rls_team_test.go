package models_test

import (
	"context"
	"testing"

	"canopy/models"
)

// The copy of a person each membership carries for the Team page (00032),
// as the server's role writes: a person's own change reaches their
// memberships in companies their scope cannot see, and nobody can write the
// copy to say anything else.

func TestRLSNameChangeReachesEveryCompany(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	alice := w.userID(t, "alice@acme.test") // a member of acme, globex and initech
	// Alice renames herself from her account page at globex: her scope sees
	// globex's memberships and her own, through the policies, and no other
	// company's rows.
	err := w.app.Within(ctx, models.Scope{TenantID: w.tenant["globex"], UserID: alice}, func(ctx context.Context, tx *models.Store) error {
		return tx.UpdateName(ctx, alice, "Alicia", "Zimmer")
	})
	if err != nil {
		t.Fatal(err)
	}
	var copies []struct {
		TenantID        int64
		PersonFirstName string
		PersonLastName  string
	}
	if err := w.owner.Raw("SELECT tenant_id, person_first_name, person_last_name FROM memberships WHERE user_id = ?", alice).Scan(&copies).Error; err != nil {
		t.Fatal(err)
	}
	if len(copies) != 3 {
		t.Fatalf("alice has %d memberships, want 3", len(copies))
	}
	for _, c := range copies {
		if c.PersonFirstName != "Alicia" || c.PersonLastName != "Zimmer" {
			t.Errorf("alice's membership of tenant %d still says %s %s", c.TenantID, c.PersonFirstName, c.PersonLastName)
		}
	}
	// Acme's Team page, as an Admin there sees it.
	bob := w.userID(t, "bob@globex.test")
	err = w.app.Within(ctx, models.Scope{TenantID: w.tenant["acme"], UserID: bob}, func(ctx context.Context, tx *models.Store) error {
		page, err := tx.Team(ctx, w.tenant["acme"], "zimmer", models.PageRequest{Number: 1, Size: 25})
		if err != nil {
			return err
		}
		if len(page.Items) != 1 || page.Items[0].UserID != alice || page.Items[0].Name() != "Alicia Zimmer" || page.Total != 1 {
			t.Errorf("acme's team searched for zimmer: %+v (total %d)", page.Items, page.Total)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRLSMembershipCopyCannotBeForged(t *testing.T) {
	w := newRLSWorld(t)
	dave := w.userID(t, "dave@acme.test")
	alice := w.userID(t, "alice@acme.test")
	// Alice, acme's owner, may update acme's memberships (a role change);
	// the copy of the person she writes is put back from users.
	rows, err := w.try(models.Scope{TenantID: w.tenant["acme"], Subtree: true, UserID: alice},
		"UPDATE memberships SET person_email = 'mallory@evil.test', person_first_name = 'Mallory', person_two_factor = true WHERE user_id = ?", dave)
	if err != nil || rows != 1 {
		t.Fatalf("the update: %d rows, %v", rows, err)
	}
	var copied struct {
		PersonEmail     string
		PersonFirstName string
		PersonTwoFactor bool
	}
	if err := w.owner.Raw("SELECT person_email, person_first_name, person_two_factor FROM memberships WHERE user_id = ?", dave).Scan(&copied).Error; err != nil {
		t.Fatal(err)
	}
	if copied.PersonEmail != "dave@acme.test" || copied.PersonFirstName != "Dave" || copied.PersonTwoFactor {
		t.Errorf("dave's copy says %+v", copied)
	}
	// The functions that keep it are triggers alone.
	for _, sql := range []string{"SELECT memberships_copy_person()", "SELECT users_copy_to_memberships()"} {
		if _, err := w.try(models.Scope{TenantID: w.tenant["acme"], UserID: alice}, sql); err == nil {
			t.Errorf("%s: called by the application role", sql)
		}
	}
}
