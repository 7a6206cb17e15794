package e2e

import (
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

// breakOwner makes a company's owner its Editor, as data from before the
// database held owners to being Super Admins may have it (the check is
// lifted for the one statement; on SQLite, by forgetting the owner row it
// reads).
func breakOwner(t *testing.T, a *app, tenant *models.Tenant) {
	t.Helper()
	demote := func() error {
		return a.db.Exec("UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?", tenant.ID, *tenant.OwnerUserID).Error
	}
	var err error
	if models.DialectOf(a.db) == models.Postgres {
		err = a.db.Exec("ALTER TABLE memberships DISABLE TRIGGER memberships_owner_is_super_admin").Error
		if err == nil {
			err = demote()
		}
		if err == nil {
			err = a.db.Exec("ALTER TABLE memberships ENABLE TRIGGER memberships_owner_is_super_admin").Error
		}
	} else {
		err = a.db.Exec("DELETE FROM tenant_owners WHERE tenant_id = ?", tenant.ID).Error
		if err == nil {
			err = demote()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaffRepairOwner: platform staff open a company whose owner is its
// Editor from ⚙ → Companies, and on its Users tab make the owner its Super
// Admin again (after a confirmation, which Cancel leaves unanswered), at
// desktop width; at phone width they make another member its owner.
func TestStaffRepairOwner(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	acme := tenantNamed(t, a, "acme")
	breakOwner(t, a, acme)
	users := a.tenantURL("admin", "/sub-tenants/"+strconv.FormatInt(acme.ID, 10)+"/users")

	t.Run("desktop", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		// ⚙ → Companies → Acme Corp → Users.
		click(t, tab, ".manage-menu > summary")
		clickAndWait(t, tab, `.manage-menu a[href="/sub-tenants"]`)
		clickAndWait(t, tab, `a.cell-link[href="/sub-tenants/`+strconv.FormatInt(acme.ID, 10)+`"]`)
		clickAndWait(t, tab, `a.tab[href$="/users"]`)
		wantLocation(t, tab, a.tenantHost("admin"), "/sub-tenants/"+strconv.FormatInt(acme.ID, 10)+"/users")
		if row := rowOf(t, tab, "alice@acme.test"); !strings.Contains(row, "Owner") || !strings.Contains(row, "Editor") {
			t.Fatalf("alice's row before the repair: %q", row)
		}
		screenshot(t, tab, "owner-repair-desktop.png")
		cancelThenConfirm(t, tab, rowButton("alice@acme.test", "Make Super Admin"), rowButton("alice@acme.test", "Make Super Admin"),
			"Alice Anderson owns Acme Corp but is its Editor. Make them its Super Admin, as its owner must be?")
		wantText(t, tab, "alice@acme.test now owns Acme Corp and is its Super Admin.")
		if row := rowOf(t, tab, "alice@acme.test"); !strings.Contains(row, "Super Admin") || strings.Contains(row, "Make") {
			t.Errorf("alice's row after the repair: %q", row)
		}
		m, err := a.store.MembershipOf(t.Context(), acme.ID, *acme.OwnerUserID)
		if err != nil || m.Role != models.RoleSuperAdmin {
			t.Fatalf("alice at Acme after the repair: %+v, %v", m, err)
		}
	})

	t.Run("phone", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), phone)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		open(t, tab, users)
		wantNoSideways(t, tab)
		cancelThenConfirm(t, tab, rowButton("dave@acme.test", "Make owner"), rowButton("dave@acme.test", "Make owner"),
			"Make Dave Davis the owner of Acme Corp?")
		wantText(t, tab, "dave@acme.test now owns Acme Corp and is its Super Admin.")
		screenshot(t, tab, "owner-repair-phone.png")
		if got := tenantNamed(t, a, "acme"); got.OwnerUserID == nil || *got.OwnerUserID == *acme.OwnerUserID {
			t.Fatalf("Acme's owner after Make owner: %v", got.OwnerUserID)
		}
	})
}
