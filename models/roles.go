package models

import "fmt"

// Role is a member's level of access in one tenant. A user may hold a
// different role in each tenant they belong to.
type Role string

// The roles, from least to most powerful.
const (
	RoleViewer     Role = "viewer"
	RoleEditor     Role = "editor"
	RoleAdmin      Role = "admin"
	RoleSuperAdmin Role = "super_admin"
)

// Roles lists every role from least to most powerful.
var Roles = []Role{RoleViewer, RoleEditor, RoleAdmin, RoleSuperAdmin}

// ParseRole accepts only the four known roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q", s)
}

// Label is the role's name as people read it.
func (r Role) Label() string {
	switch r {
	case RoleViewer:
		return "Viewer"
	case RoleEditor:
		return "Editor"
	case RoleAdmin:
		return "Admin"
	case RoleSuperAdmin:
		return "Super Admin"
	}
	return "Unknown"
}

func (r Role) rank() int {
	for i, known := range Roles {
		if r == known {
			return i + 1
		}
	}
	return 0 // unknown roles can do nothing
}

// AtLeast tells whether r is as powerful as other.
func (r Role) AtLeast(other Role) bool { return r.rank() > 0 && r.rank() >= other.rank() }

// Permission is one row of the role matrix (docs/product.md, Roles).
type Permission string

const (
	// PermView sees Home, devices, orders, templates, team and settings.
	PermView Permission = "view"
	// PermEdit creates orders and templates, and adds and edits devices.
	PermEdit Permission = "edit"
	// PermManageMembers deprovisions devices; adds, removes and re-roles
	// members up to Admin; resends and revokes invitations.
	PermManageMembers Permission = "manage_members"
	// PermManageSettings changes company settings and reads the audit log.
	PermManageSettings Permission = "manage_settings"
	// PermManageSubTenants grants and revokes Super Admin, transfers
	// ownership, and manages sub-tenants.
	PermManageSubTenants Permission = "manage_sub_tenants"
)

// minimumRole is the role matrix: the least role that holds each permission.
// It is the only place in Canopy that decides who may do what.
var minimumRole = map[Permission]Role{
	PermView:             RoleViewer,
	PermEdit:             RoleEditor,
	PermManageMembers:    RoleAdmin,
	PermManageSettings:   RoleAdmin,
	PermManageSubTenants: RoleSuperAdmin,
}

// Permissions lists every permission, in matrix order.
var Permissions = []Permission{PermView, PermEdit, PermManageMembers, PermManageSettings, PermManageSubTenants}

// Can tells whether a member with role r holds permission p. An unknown
// permission is held by nobody.
func (r Role) Can(p Permission) bool {
	least, ok := minimumRole[p]
	return ok && r.AtLeast(least)
}

// CanAssign tells whether a member with role actor may give someone the role
// next, replacing their current role (empty for a newcomer). Nobody raises
// anyone above their own role, and only a Super Admin grants or revokes
// Super Admin: an Admin can neither touch a Super Admin nor make one.
func CanAssign(actor, current, next Role) bool {
	if !actor.Can(PermManageMembers) || next.rank() == 0 || !actor.AtLeast(next) {
		return false
	}
	return current == "" || actor.AtLeast(current)
}

// AssignableRoles lists the roles actor may hand out, for the role dropdowns.
func AssignableRoles(actor Role) []Role {
	var out []Role
	for _, r := range Roles {
		if CanAssign(actor, "", r) {
			out = append(out, r)
		}
	}
	return out
}
