package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// TeamRow is one line of the team list: a member, or someone invited.
type TeamRow struct {
	Kind      string // "member" or "invitation"
	ID        int64  // membership id or invitation id
	UserID    int64  // 0 for invitations
	FirstName string
	LastName  string
	Email     string
	Role      Role
	Status    string // "active", "invited", "expired" (invited, but the link no longer works) or "declined"
	CreatedAt time.Time
	ExpiresAt *time.Time
	// OwnsAnother tells whether a member already owns another company, and
	// so cannot become this one's owner (each person owns at most one).
	OwnsAnother bool
	// TwoFactor tells whether a member signs in with a second factor (an
	// authenticator app or a passkey); false for invitations.
	TwoFactor bool `gorm:"column:two_factor"`
	// SignIn is how a member signs in; nothing for invitations.
	SignIn SignInMethod `gorm:"embedded;embeddedPrefix:sign_in_"`
}

// Name is how the row's person is shown.
func (r TeamRow) Name() string {
	u := User{FirstName: r.FirstName, LastName: r.LastName, Email: r.Email}
	return u.Name()
}

// IsInvitation tells whether the row is an invitation rather than a member.
func (r TeamRow) IsInvitation() bool { return r.Kind == "invitation" }

// IsOpenInvitation tells whether the row is an invitation still waiting for
// an answer, expired or not: it can be sent again or revoked.
func (r TeamRow) IsOpenInvitation() bool {
	return r.IsInvitation() && (r.Status == "invited" || r.Status == "expired")
}

// TeamPageSize is how many people the team list shows at once.
const TeamPageSize = 25

// TeamFilter narrows the team list.
type TeamFilter struct {
	Query string // part of a name or an email
	// WithoutTwoFactor keeps the members who have no second factor (and
	// no invitations), for a company that requires one.
	WithoutTwoFactor bool
}

// Team lists a tenant's members, open invitations (expired ones apart) and
// declined ones (until someone invites that person again), searchable by
// name or email, one page at a time: one statement for the rows and their
// count (a second one counts when the page is empty).
func (s *Store) Team(ctx context.Context, tenantID int64, query string, page PageRequest) (Page[TeamRow], error) {
	return s.TeamFiltered(ctx, tenantID, TeamFilter{Query: query}, page)
}

// The team list's order: members first, then invitations still open, then
// expired ones, then declined ones; within each, by first name, last name
// and email, ignoring case. Each membership carries a copy of its person's
// name, email and second factor (kept by triggers, migration 00032), and
// memberships_team_order_idx holds them in this order, so a page of members
// is read in order from the index, without reading users.
const (
	teamMemberOrder = "lower(memberships.person_first_name), lower(memberships.person_last_name), memberships.person_email"
	teamListedOrder = "rank, key_first, key_last, email"
)

// TeamFiltered is Team narrowed by a filter.
func (s *Store) TeamFiltered(ctx context.Context, tenantID int64, f TeamFilter, page PageRequest) (Page[TeamRow], error) {
	result := Page[TeamRow]{PageRequest: page}
	members := func() *gorm.DB { return s.teamMembers(ctx, tenantID, f) }
	invited := func() *gorm.DB { return s.teamInvitations(ctx, tenantID, f.Query) }
	if f.WithoutTwoFactor {
		invited = nil // only members have a second factor to lack
	}
	count, err := s.teamCount(ctx, tenantID, f, members, invited)
	if err != nil {
		return result, fmt.Errorf("count team: %w", err)
	}
	rows, err := s.listTeam(ctx, tenantID, members, invited, count, page)
	if err != nil {
		return result, fmt.Errorf("list team: %w", err)
	}
	var n int64
	if len(rows) > 0 {
		n = rows[0].Total
	} else if err := s.conn(ctx).Raw("SELECT ?", count).Scan(&n).Error; err != nil {
		return result, fmt.Errorf("count team: %w", err)
	}
	result.Items = make([]TeamRow, len(rows))
	for i, r := range rows {
		result.Items[i] = r.TeamRow
	}
	result.Total, result.Capped = n, false
	if filtered(f) {
		result.Total, result.Capped = min(n, CountCap), n > CountCap
	}
	return result, nil
}

// filtered tells whether the list is narrowed, so counted up to CountCap.
func filtered(f TeamFilter) bool { return f.Query != "" || f.WithoutTwoFactor }

// teamMembers is the tenant's memberships the filter keeps, judged by the
// copy of the person each membership carries.
func (s *Store) teamMembers(ctx context.Context, tenantID int64, f TeamFilter) *gorm.DB {
	q := s.scoped(ctx, tenantID).Table("memberships")
	if f.Query != "" {
		like := LikePattern(f.Query)
		q = q.Where(`(lower(memberships.person_email) LIKE ? ESCAPE '\' OR lower(memberships.person_first_name || ' ' || memberships.person_last_name) LIKE ? ESCAPE '\')`, like, like)
	}
	if f.WithoutTwoFactor {
		q = q.Where("memberships.person_two_factor = ?", false)
	}
	return q
}

// teamInvitations is the tenant's invitations the team list shows: the
// pending ones, and a declined one until the person is invited again;
// never one whose invitee is a member already (found by the email each
// membership carries, one lookup of memberships_tenant_email_idx; emails
// are stored lower-case on both sides).
func (s *Store) teamInvitations(ctx context.Context, tenantID int64, query string) *gorm.DB {
	q := s.scoped(ctx, tenantID).Table("invitations").
		Where("invitations.status = 'pending' OR (invitations.status = 'declined' AND NOT EXISTS (" +
			"SELECT 1 FROM invitations AS newer WHERE newer.tenant_id = invitations.tenant_id AND newer.email = invitations.email" +
			" AND (newer.status = 'pending' OR newer.id > invitations.id)))").
		Where("NOT EXISTS (SELECT 1 FROM memberships AS m WHERE m.tenant_id = invitations.tenant_id AND m.person_email = invitations.email)")
	if query != "" {
		like := LikePattern(query)
		q = q.Where(`(invitations.email LIKE ? ESCAPE '\' OR lower(invitations.first_name || ' ' || invitations.last_name) LIKE ? ESCAPE '\')`, like, like)
	}
	return q
}

// teamCount is an expression counting the team list, for the statement
// that reads the page. Unfiltered, the members are counted by the database
// already (tenants.member_count), and only the invitations need counting;
// a search or a filter counts its matches, up to one past CountCap.
func (s *Store) teamCount(ctx context.Context, tenantID int64, f TeamFilter, members, invited func() *gorm.DB) (*gorm.DB, error) {
	if !filtered(f) {
		q := invited().Select("invitations.id")
		if q.Error != nil {
			return nil, q.Error
		}
		return s.conn(ctx).Raw("(SELECT member_count FROM tenants WHERE id = ?) + (SELECT count(*) FROM (?) AS invited)", tenantID, q), nil
	}
	matches := members().Select("memberships.id")
	if invited != nil {
		more := invited().Select("invitations.id")
		if more.Error != nil {
			return nil, more.Error
		}
		matches = s.conn(ctx).Raw("? UNION ALL ?", matches, more)
	}
	if matches.Error != nil {
		return nil, matches.Error
	}
	return s.conn(ctx).Raw(fmt.Sprintf("(SELECT count(*) FROM (SELECT 1 FROM (?) AS matched LIMIT %d) AS counted)", CountCap+1), matches), nil
}

// teamListRow is a row of the team list with the count of the whole list.
type teamListRow struct {
	TeamRow
	Total int64
}

// listTeam reads one page of the team list, with count (an expression
// evaluated once) on every row and how each member of the page signs in, in
// one statement. Members come first, so at most offset+size of them are
// read, in order from the index; the invitations are read only when fewer
// members than that match (a one-time test of the members read).
func (s *Store) listTeam(ctx context.Context, tenantID int64, members, invited func() *gorm.DB, count *gorm.DB, page PageRequest) ([]teamListRow, error) {
	upTo := page.Offset() + page.Size
	// tenants_owner_key makes "owns another company" one index lookup per
	// member read. The typed NULL is for PostgreSQL, which types a CTE's
	// columns before the UNION that uses it (SQLite reads any type name).
	read := members().Select(`0 AS rank, 'member' AS kind, memberships.id, memberships.user_id,
			memberships.person_first_name AS first_name, memberships.person_last_name AS last_name, memberships.person_email AS email,
			memberships.role, 'active' AS status, memberships.created_at, CAST(NULL AS TIMESTAMPTZ) AS expires_at,
			EXISTS (SELECT 1 FROM tenants AS owned WHERE owned.owner_user_id = memberships.user_id AND owned.id <> memberships.tenant_id) AS owns_another,
			memberships.person_two_factor AS two_factor,
			lower(memberships.person_first_name) AS key_first, lower(memberships.person_last_name) AS key_last`).
		Order(teamMemberOrder).Limit(upTo)
	if read.Error != nil {
		return nil, read.Error
	}
	listed, args := "SELECT * FROM members", []any{read}
	if invited != nil {
		now := s.db.NowFunc()
		inv := invited().Select(`CASE WHEN invitations.status <> 'pending' THEN 3 WHEN invitations.expires_at <= ? THEN 2 ELSE 1 END AS rank,
			'invitation' AS kind, invitations.id, 0 AS user_id, invitations.first_name, invitations.last_name, invitations.email, invitations.role,
			CASE WHEN invitations.status <> 'pending' THEN 'declined' WHEN invitations.expires_at <= ? THEN 'expired' ELSE 'invited' END AS status,
			invitations.created_at, invitations.expires_at, false AS owns_another, false AS two_factor,
			lower(invitations.first_name) AS key_first, lower(invitations.last_name) AS key_last`, now, now).
			Order(teamListedOrder).Limit(upTo)
		if inv.Error != nil {
			return nil, inv.Error
		}
		listed += fmt.Sprintf(" UNION ALL SELECT * FROM (?) AS invited WHERE (SELECT count(*) FROM members) < %d", upTo)
		args = append(args, inv)
	}
	sql := fmt.Sprintf("WITH members AS (?), page AS (SELECT team.*, (?) AS total FROM (%s) AS team ORDER BY %s LIMIT %d OFFSET %d) ",
		listed, teamListedOrder, page.Size, page.Offset())
	args = append(args[:1], append([]any{count}, args[1:]...)...)
	// How the page's members sign in: on PostgreSQL the owner's function
	// SignInMethods calls, as the application cannot read passwords or
	// identities; on SQLite the tables themselves.
	if s.Dialect() == Postgres {
		sql += `SELECT page.*, COALESCE(methods.has_password, false) AS sign_in_password, COALESCE(methods.has_identity, false) AS sign_in_sso
			FROM page LEFT JOIN canopy_sign_in_methods(?, ARRAY(SELECT user_id FROM page WHERE kind = 'member')) AS methods
				ON methods.user_id = page.user_id AND page.kind = 'member'`
		args = append(args, tenantID)
	} else {
		sql += `SELECT page.*, page.kind = 'member' AND EXISTS (SELECT 1 FROM user_passwords AS p WHERE p.user_id = page.user_id) AS sign_in_password,
			page.kind = 'member' AND EXISTS (SELECT 1 FROM user_identities AS i WHERE i.user_id = page.user_id) AS sign_in_sso
			FROM page`
	}
	sql += " ORDER BY " + teamListedOrder
	var rows []teamListRow
	err := s.conn(ctx).Raw(sql, args...).Scan(&rows).Error
	return rows, err
}

// MembersWithoutTwoFactor counts the tenant's members who sign in without
// a second factor, for a company that requires one.
func (s *Store) MembersWithoutTwoFactor(ctx context.Context, tenantID int64) (int64, error) {
	var n int64
	err := s.teamMembers(ctx, tenantID, TeamFilter{WithoutTwoFactor: true}).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count members without two-factor: %w", err)
	}
	return n, nil
}

// MemberChange is an Admin or Super Admin acting on another member.
type MemberChange struct {
	TenantID     int64
	ActorUserID  int64
	ActorRole    Role
	MembershipID int64
}

// memberActedOn loads the membership acted on, with its person and whether
// they own the tenant, in one statement, refusing the actor themself, then
// the owner when ownerFixed says the change would touch what is fixed about
// them (their role, their membership), then anyone above the actor.
func (s *Store) memberActedOn(ctx context.Context, c MemberChange, ownerFixed func(*Membership) bool) (*memberRow, error) {
	var m memberRow
	err := s.scoped(ctx, c.TenantID).Model(&Membership{}).
		Select(`memberships.*, users.first_name, users.last_name, users.email,
			CASE WHEN tenants.owner_user_id = memberships.user_id THEN 1 ELSE 0 END AS owner`).
		Joins("JOIN users ON users.id = memberships.user_id").
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Where("memberships.id = ?", c.MembershipID).Take(&m).Error
	if err != nil {
		return nil, notFound(err, "load member")
	}
	switch {
	case m.UserID == c.ActorUserID:
		return nil, ErrSelf
	case m.Owner && ownerFixed(&m.Membership):
		return nil, ErrOwnerIsFixed
	case !c.ActorRole.Can(PermManageMembers) || !c.ActorRole.AtLeast(m.Role):
		return nil, ErrNotAllowed
	}
	return &m, nil
}

// memberRow is a membership with its person, and whether they own the tenant.
type memberRow struct {
	Membership
	FirstName string
	LastName  string
	Email     string
	Owner     bool
}

// lockMemberActedOn locks what an Admin's change to another member decides
// on (lockTeam: the tenant, then the member acted on and the actor's own
// membership), then loads the member as memberActedOn does. The actor's
// role was read when the request began; if it changed since, nothing is
// done.
func (s *Store) lockMemberActedOn(ctx context.Context, c MemberChange, ownerFixed func(*Membership) bool) (*Tenant, *memberRow, error) {
	t, locked, err := s.lockTeam(ctx, c.TenantID, "id = ? OR user_id = ?", c.MembershipID, c.ActorUserID)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.memberActedOn(ctx, c, ownerFixed)
	if err != nil {
		return nil, nil, err
	}
	actorAsRead := func(a Membership) bool { return a.UserID == c.ActorUserID && a.Role == c.ActorRole }
	if !slices.ContainsFunc(locked, actorAsRead) {
		return nil, nil, ErrChangedMeanwhile
	}
	return t, m, nil
}

func ownerAlwaysFixed(*Membership) bool { return true }

// ChangeRole gives a member another role, within what the actor may grant.
// Memberships are read afresh on every request, so it applies at once.
func (s *Store) ChangeRole(ctx context.Context, c MemberChange, role Role) error {
	return s.Tx(ctx, func(tx *Store) error {
		_, m, err := tx.lockMemberActedOn(ctx, c, ownerAlwaysFixed)
		if err != nil {
			return err
		}
		if !CanAssign(c.ActorRole, m.Role, role) {
			return ErrNotAllowed
		}
		res := tx.scoped(ctx, c.TenantID).Model(&Membership{}).Where("id = ? AND role = ?", m.ID, m.Role).
			Updates(map[string]any{"role": role, "updated_at": tx.db.NowFunc()})
		if err := changed(res, "change role"); err != nil {
			return err
		}
		if err := tx.auditUser(ctx, c.TenantID, AuditMemberRoleChanged, m.UserID, map[string]any{"role": m.Role}, map[string]any{"role": role}); err != nil {
			return err
		}
		return tx.emitMemberRoleChanged(ctx, &m.Membership, m.Role, role)
	})
}

// RemoveMembership takes a member out of the tenant; they lose access on
// their next request.
func (s *Store) RemoveMembership(ctx context.Context, c MemberChange) error {
	return s.Tx(ctx, func(tx *Store) error {
		t, m, err := tx.lockMemberActedOn(ctx, c, ownerAlwaysFixed)
		if err != nil {
			return err
		}
		return tx.removeLockedMember(ctx, t, &m.Membership, AuditMemberRemoved)
	})
}

// MemberToEdit is a member as the Edit member form shows them.
type MemberToEdit struct {
	Membership
	User *User // their name and email

	Owner       bool    // the tenant's owner, whose role is fixed
	TemplateIDs []int64 // the templates they may order from; none means every one
}

// MemberForEdit loads a member of the tenant for the Edit member form,
// refusing what UpdateMember would: the actor themself (ErrSelf), anyone
// above the actor (ErrNotAllowed), a member of another tenant (ErrNotFound).
func (s *Store) MemberForEdit(ctx context.Context, c MemberChange) (*MemberToEdit, error) {
	m, err := s.memberActedOn(ctx, c, func(*Membership) bool { return false })
	if err != nil {
		return nil, err
	}
	out := &MemberToEdit{Membership: m.Membership, Owner: m.Owner,
		User: &User{ID: m.UserID, FirstName: m.FirstName, LastName: m.LastName, Email: m.Email}}
	if out.TemplateIDs, err = s.MemberTemplateIDs(ctx, c.TenantID, m.ID); err != nil {
		return nil, err
	}
	return out, nil
}

// MemberUpdate is the Edit member form: the member's role, and the
// templates they may order from (none: every template).
type MemberUpdate struct {
	Role        Role
	TemplateIDs []int64
}

// UpdateMember saves the Edit member form in one transaction, under the
// rules of ChangeRole (nobody raises anyone above their own role, only Super
// Admins touch Super Admin, the owner's role is fixed, nobody edits
// themselves). The owner's templates may be changed by those above or
// level with them. What changed is audited: the role as member.role_changed,
// the templates as member.templates_changed. An unknown role or template is
// reported beside its field and nothing changes.
func (s *Store) UpdateMember(ctx context.Context, c MemberChange, u MemberUpdate) error {
	if _, err := ParseRole(string(u.Role)); err != nil {
		return FieldErrors{"role": "Choose a role from the list."}
	}
	ids := uniqueIDs(u.TemplateIDs)
	slices.Sort(ids)
	return s.Tx(ctx, func(tx *Store) error {
		_, m, err := tx.lockMemberActedOn(ctx, c, func(m *Membership) bool { return u.Role != m.Role })
		if err != nil {
			return err
		}
		if err := tx.checkTemplateIDs(ctx, c.TenantID, ids); err != nil {
			return err
		}
		if u.Role != m.Role {
			if err := tx.ChangeRole(ctx, c, u.Role); err != nil {
				return err
			}
		}
		was, err := tx.MemberTemplateIDs(ctx, c.TenantID, m.ID)
		if err != nil || slices.Equal(was, ids) {
			return err
		}
		if err := tx.SetMemberTemplates(ctx, c.TenantID, m.ID, ids); err != nil {
			return err
		}
		names, err := tx.templateNames(ctx, c.TenantID, append(slices.Clone(was), ids...))
		if err != nil {
			return err
		}
		return tx.auditUser(ctx, c.TenantID, AuditMemberTemplates, m.UserID,
			map[string]any{"templates": names.list(was)}, map[string]any{"templates": names.list(ids)})
	})
}

// templateNameSet names templates by id, for audit events.
type templateNameSet map[int64]string

// list names the templates a member may order from, as the audit log
// shows them: every template when there are none.
func (n templateNameSet) list(ids []int64) string {
	if len(ids) == 0 {
		return "every template"
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = n[id]
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// templateNames loads the names of some of the tenant's templates.
func (s *Store) templateNames(ctx context.Context, tenantID int64, ids []int64) (templateNameSet, error) {
	out := templateNameSet{}
	if len(ids) == 0 {
		return out, nil
	}
	var ts []Template
	if err := s.scoped(ctx, tenantID).Select("id", "name").Where("id IN ?", uniqueIDs(ids)).Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("name templates: %w", err)
	}
	for _, t := range ts {
		out[t.ID] = t.Name
	}
	return out, nil
}

// TransferOwnership makes another member the tenant's owner (and a Super
// Admin). Only the current owner may do it; they stay a Super Admin.
func (s *Store) TransferOwnership(ctx context.Context, tenantID, actorUserID, membershipID int64) (*User, error) {
	var newOwner *User
	err := s.Tx(ctx, func(tx *Store) error {
		t, locked, err := tx.lockTeam(ctx, tenantID, "id = ? OR user_id = ?", membershipID, actorUserID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(locked, func(m Membership) bool { return m.ID == membershipID })
		switch {
		case i < 0:
			return fmt.Errorf("load member: %w", ErrNotFound)
		case t.OwnerUserID == nil || *t.OwnerUserID != actorUserID:
			return ErrNotOwner
		case locked[i].UserID == actorUserID:
			return ErrSelf
		}
		if newOwner, err = tx.makeOwner(ctx, t, &locked[i]); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditOwnershipTransferred, AuditTarget{Type: "user", ID: newOwner.ID, Label: newOwner.Email}, map[string]any{"owner_user_id": actorUserID}, map[string]any{"owner_user_id": newOwner.ID})
	})
	return newOwner, err
}

// makeOwner hands a tenant to one of its members, both locked with lockTeam
// and read since: the tenant's owner becomes the member, and the member its
// Super Admin. Each statement names what was read, so a record that changed
// under the lock after all is refused rather than overwritten. It returns
// the new owner.
func (s *Store) makeOwner(ctx context.Context, t *Tenant, m *Membership) (*User, error) {
	now := s.db.NowFunc()
	tenant := s.conn(ctx).Model(&Tenant{}).Where("id = ?", t.ID)
	if t.OwnerUserID == nil {
		tenant = tenant.Where("owner_user_id IS NULL")
	} else {
		tenant = tenant.Where("owner_user_id = ?", *t.OwnerUserID)
	}
	res := tenant.Updates(map[string]any{"owner_user_id": m.UserID, "updated_at": now})
	if violatesUnique(res.Error, "tenants_owner_key") {
		return nil, ErrOwnsAnother
	}
	if err := changed(res, "set owner"); err != nil {
		return nil, err
	}
	res = s.scoped(ctx, t.ID).Model(&Membership{}).Where("id = ? AND user_id = ? AND role = ?", m.ID, m.UserID, m.Role).
		Updates(map[string]any{"role": RoleSuperAdmin, "updated_at": now})
	if err := changed(res, "make the owner Super Admin"); err != nil {
		return nil, err
	}
	if m.Role != RoleSuperAdmin {
		if err := s.auditUser(ctx, t.ID, AuditMemberRoleChanged, m.UserID, map[string]any{"role": m.Role}, map[string]any{"role": RoleSuperAdmin}); err != nil {
			return nil, err
		}
		if err := s.emitMemberRoleChanged(ctx, m, m.Role, RoleSuperAdmin); err != nil {
			return nil, err
		}
	}
	t.OwnerUserID = &m.UserID
	return s.UserByID(ctx, m.UserID)
}
