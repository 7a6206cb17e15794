package models_test

import (
	"testing"

	"canopy/models"
)

// TestRoleMatrix is the role matrix of docs/product.md written out: one row
// per permission, one column per role.
func TestRoleMatrix(t *testing.T) {
	matrix := map[models.Permission][4]bool{ // viewer, editor, admin, super admin
		models.PermView:             {true, true, true, true},
		models.PermEdit:             {false, true, true, true},
		models.PermManageMembers:    {false, false, true, true},
		models.PermManageSettings:   {false, false, true, true},
		models.PermManageSubTenants: {false, false, false, true},
	}
	if len(matrix) != len(models.Permissions) {
		t.Fatalf("matrix covers %d permissions, code has %d", len(matrix), len(models.Permissions))
	}
	for _, p := range models.Permissions {
		for i, role := range models.Roles {
			if got, want := role.Can(p), matrix[p][i]; got != want {
				t.Errorf("%s can %s = %v, want %v", role, p, got, want)
			}
		}
	}
	if models.Role("owner").Can(models.PermView) || models.Role("").Can(models.PermView) {
		t.Error("an unknown role must hold no permission")
	}
	if models.RoleSuperAdmin.Can("fly") {
		t.Error("an unknown permission must be held by nobody")
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range models.Roles {
		if got, err := models.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "owner", "Admin", "super admin"} {
		if _, err := models.ParseRole(bad); err == nil {
			t.Errorf("ParseRole(%q) accepted", bad)
		}
	}
}

func TestCanAssign(t *testing.T) {
	v, e, a, s := models.RoleViewer, models.RoleEditor, models.RoleAdmin, models.RoleSuperAdmin
	cases := []struct {
		actor, current, next models.Role
		want                 bool
	}{
		{a, "", v, true},
		{a, "", a, true},
		{a, "", s, false}, // only Super Admins grant Super Admin
		{a, v, a, true},
		{a, s, a, false}, // ...or revoke it
		{a, s, v, false},
		{s, "", s, true},
		{s, s, v, true},
		{e, "", v, false}, // editors do not manage members
		{v, "", v, false},
		{s, "", "owner", false},
		{"", "", v, false},
	}
	for _, c := range cases {
		if got := models.CanAssign(c.actor, c.current, c.next); got != c.want {
			t.Errorf("CanAssign(%s, %q, %s) = %v, want %v", c.actor, c.current, c.next, got, c.want)
		}
	}
	if got := models.AssignableRoles(a); len(got) != 3 || got[2] != a {
		t.Errorf("an Admin may assign %v", got)
	}
	if got := models.AssignableRoles(s); len(got) != 4 {
		t.Errorf("a Super Admin may assign %v", got)
	}
}
