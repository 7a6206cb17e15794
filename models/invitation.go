package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// InvitationStatus is where an invitation stands.
type InvitationStatus string

// The invitation statuses: pending until answered or revoked.
const (
	InvitationPending  InvitationStatus = "pending"
	InvitationAccepted InvitationStatus = "accepted"
	InvitationDeclined InvitationStatus = "declined"
	InvitationRevoked  InvitationStatus = "revoked"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation asks someone by email to join a tenant with a role. Only a hash
// of its link's token is stored.
type Invitation struct {
	ID              int64
	TenantID        int64
	Email           string
	FirstName       string
	LastName        string
	Role            Role
	TemplateIDs     string // comma-separated; given to the membership on acceptance
	TokenHash       string `json:"-"`
	Status          InvitationStatus
	InvitedByUserID *int64
	MakesOwner      bool
	ExpiresAt       time.Time
	RespondedAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Name is how the invitee is addressed.
func (i *Invitation) Name() string {
	if n := strings.TrimSpace(i.FirstName + " " + i.LastName); n != "" {
		return n
	}
	return i.Email
}

// target is the invitation as an audit event names it.
func (i *Invitation) target() AuditTarget {
	return AuditTarget{Type: "invitation", ID: i.ID, Label: i.Email}
}

// InviteRequest is the Add member form, or a new company's owner.
type InviteRequest struct {
	TenantID    int64
	InviterID   int64 // 0 for none
	InviterRole Role  // the inviter's role: nobody hands out more than they hold
	Email       string
	FirstName   string
	LastName    string
	Role        Role
	TemplateIDs []int64
	MakesOwner  bool
}

// InviteOutcome says what inviting someone did.
type InviteOutcome int

const (
	// AddedAtOnce means an active user became a member immediately; no email.
	AddedAtOnce InviteOutcome = iota + 1
	// InvitationSent means an email with a single-use link is on its way.
	InvitationSent
)

// MailFor builds the invitation email for a link token. It is given the
// invitation's own tenant, so the email can only name the company it is for.
type MailFor func(inv *Invitation, t *Tenant, token string) NewEmail

func (r *InviteRequest) validate() FieldErrors {
	r.Email = NormalizeEmail(r.Email)
	errs := FieldErrors{}
	// The invite forms require first name, last name, email and role
	// (docs/product.md, Team and invitations).
	validatePersonName(errs, &r.FirstName, &r.LastName, !r.MakesOwner, !r.MakesOwner)
	if msg := ValidateEmail(r.Email); msg != "" {
		errs["email"] = msg
	}
	if _, err := ParseRole(string(r.Role)); err != nil {
		errs["role"] = "Choose a role from the list."
	} else if !CanAssign(r.InviterRole, "", r.Role) {
		errs["role"] = "You can't give someone a role above your own, and only Super Admins grant Super Admin."
	}
	return errs
}

// Invite adds a member (docs/product.md, Team and invitations): an active
// user who has not declined this tenant
// before becomes a member at once and gets no email; anyone else gets an
// invitation email with a single-use link valid for InvitationTTL. It all
// happens in one transaction, email included, so a double submit leaves one
// membership or one invitation, and one email.
func (s *Store) Invite(ctx context.Context, req InviteRequest, mail MailFor) (InviteOutcome, error) {
	if req.TenantID <= 0 {
		return 0, ErrNoTenant
	}
	if err := req.validate().Err(); err != nil {
		return 0, err
	}
	var outcome InviteOutcome
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.checkTemplateIDs(ctx, req.TenantID, req.TemplateIDs); err != nil {
			return err
		}
		user, err := tx.UserByEmail(ctx, req.Email)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if user != nil && err == nil {
			if _, err := tx.MembershipOf(ctx, req.TenantID, user.ID); err == nil {
				return FieldErrors{"email": "This person is already a member."}
			}
			declined, err := tx.hasDeclined(ctx, req.TenantID, req.Email)
			if err != nil {
				return err
			}
			if user.Status == UserActive && !declined && !req.MakesOwner {
				outcome = AddedAtOnce
				m, err := tx.additionBy(ctx, req, user.ID)
				if err != nil {
					return err
				}
				return tx.addMemberWithTemplates(ctx, m, req.TemplateIDs)
			}
		}
		if err := tx.refuseSecondInvitation(ctx, req.TenantID, req.Email); err != nil {
			return err
		}
		outcome = InvitationSent
		return tx.createInvitation(ctx, req, mail)
	})
	if err != nil {
		return 0, err
	}
	return outcome, nil
}

// additionBy is the membership of someone added at once, without being
// asked: it names who added them, so that they are told on their next page
// and can leave (docs/product.md, Team and invitations).
func (s *Store) additionBy(ctx context.Context, req InviteRequest, userID int64) (*Membership, error) {
	m := &Membership{TenantID: req.TenantID, UserID: userID, Role: req.Role}
	if req.InviterID == 0 {
		return m, nil
	}
	inviter, err := s.UserByID(ctx, req.InviterID)
	if err != nil {
		return nil, fmt.Errorf("load who adds: %w", err)
	}
	m.AddedByUserID, m.AddedByName = &inviter.ID, inviter.Name()
	return m, nil
}

func (s *Store) hasDeclined(ctx context.Context, tenantID int64, email string) (bool, error) {
	var n int64
	err := s.scoped(ctx, tenantID).Model(&Invitation{}).
		Where("email = ? AND status = ?", email, InvitationDeclined).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("look up declined invitations: %w", err)
	}
	return n > 0, nil
}

// refuseSecondInvitation says, beside the email, that the person already
// has an invitation waiting for an answer, and whether its link expired.
// (invitations_pending_key still decides under concurrent requests.)
func (s *Store) refuseSecondInvitation(ctx context.Context, tenantID int64, email string) error {
	var open []Invitation
	err := s.scoped(ctx, tenantID).Where("email = ? AND status = ?", email, InvitationPending).Limit(1).Find(&open).Error
	switch {
	case err != nil:
		return fmt.Errorf("look up open invitations: %w", err)
	case len(open) == 0:
		return nil
	case !s.db.NowFunc().Before(open[0].ExpiresAt):
		return FieldErrors{"email": "Their earlier invitation expired. Use Invite again in the list to send them a new link."}
	}
	return FieldErrors{"email": alreadyInvitedMessage}
}

const alreadyInvitedMessage = "This person already has an open invitation. Resend it from the user list instead."

func (s *Store) createInvitation(ctx context.Context, req InviteRequest, mail MailFor) error {
	token, hash := newInvitationToken()
	inv := &Invitation{
		TenantID: req.TenantID, Email: req.Email, FirstName: req.FirstName, LastName: req.LastName,
		Role: req.Role, TemplateIDs: joinIDs(req.TemplateIDs), TokenHash: hash, Status: InvitationPending,
		MakesOwner: req.MakesOwner, ExpiresAt: s.db.NowFunc().Add(InvitationTTL),
	}
	if req.InviterID != 0 {
		inv.InvitedByUserID = &req.InviterID
	}
	if err := s.conn(ctx).Create(inv).Error; err != nil {
		if violatesUnique(err, "invitations_pending_key") {
			return FieldErrors{"email": alreadyInvitedMessage}
		}
		return fmt.Errorf("create invitation: %w", err)
	}
	if err := s.audit(ctx, inv.TenantID, AuditInvitationSent, inv.target(), nil, map[string]any{"role": inv.Role, "makes_owner": inv.MakesOwner}); err != nil {
		return err
	}
	return s.enqueueInvitation(ctx, inv, token, mail)
}

// enqueueInvitation writes the invitation email for inv's own tenant.
func (s *Store) enqueueInvitation(ctx context.Context, inv *Invitation, token string, mail MailFor) error {
	t, err := s.TenantByID(ctx, inv.TenantID)
	if err != nil {
		return err
	}
	return s.EnqueueEmail(ctx, mail(inv, t, token))
}

// ResendInvitation sends a pending invitation again with a fresh link (the
// old link stops working) and a fresh expiry; for an expired one, it is
// inviting them again.
func (s *Store) ResendInvitation(ctx context.Context, tenantID, invitationID int64, actor Role, mail MailFor) error {
	return s.Tx(ctx, func(tx *Store) error {
		inv, err := tx.pendingInvitation(ctx, tenantID, invitationID, actor)
		if err != nil {
			return err
		}
		token, hash := newInvitationToken()
		inv.TokenHash, inv.ExpiresAt = hash, tx.db.NowFunc().Add(InvitationTTL)
		err = tx.scoped(ctx, tenantID).Model(&Invitation{}).Where("id = ?", inv.ID).
			Updates(map[string]any{"token_hash": hash, "expires_at": inv.ExpiresAt, "updated_at": tx.db.NowFunc()}).Error
		if err != nil {
			return fmt.Errorf("renew invitation: %w", err)
		}
		if err := tx.audit(ctx, tenantID, AuditInvitationResent, inv.target(), nil, map[string]any{"expires_at": inv.ExpiresAt}); err != nil {
			return err
		}
		return tx.enqueueInvitation(ctx, inv, token, mail)
	})
}

// RevokeInvitation withdraws a pending invitation; its link stops working.
func (s *Store) RevokeInvitation(ctx context.Context, tenantID, invitationID int64, actor Role) error {
	return s.Tx(ctx, func(tx *Store) error {
		inv, err := tx.pendingInvitation(ctx, tenantID, invitationID, actor)
		if err != nil {
			return err
		}
		if err := tx.respond(ctx, inv, InvitationRevoked); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditInvitationRevoked, inv.target(), map[string]any{"status": InvitationPending}, map[string]any{"status": InvitationRevoked})
	})
}

// pendingInvitation loads an invitation of this tenant that actor may manage.
func (s *Store) pendingInvitation(ctx context.Context, tenantID, invitationID int64, actor Role) (*Invitation, error) {
	var inv Invitation
	err := s.scoped(ctx, tenantID).Where("id = ?", invitationID).Take(&inv).Error
	if err != nil {
		return nil, notFound(err, "load invitation")
	}
	if inv.Status != InvitationPending {
		return nil, ErrInvitationNotPending
	}
	if !CanAssign(actor, "", inv.Role) {
		return nil, ErrNotAllowed
	}
	return &inv, nil
}

// respond moves a pending invitation to its final status exactly once: the
// status condition makes a second, concurrent answer affect no row.
func (s *Store) respond(ctx context.Context, inv *Invitation, status InvitationStatus) error {
	now := s.db.NowFunc()
	res := s.scoped(ctx, inv.TenantID).Model(&Invitation{}).
		Where("id = ? AND status = ?", inv.ID, InvitationPending).
		Updates(map[string]any{"status": status, "responded_at": now, "updated_at": now})
	if res.Error != nil {
		return fmt.Errorf("answer invitation: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrInvitationUsed
	}
	inv.Status, inv.RespondedAt = status, &now
	return nil
}

// InvitationByToken finds the open invitation a link's token belongs to. An
// answered, withdrawn or expired one is an error saying which.
func (s *Store) InvitationByToken(ctx context.Context, token string) (*Invitation, *Tenant, error) {
	var inv Invitation
	hash := hashToken(token)
	// Holding the link is what lets its holder read the invitation, before
	// anyone knows which company it is for.
	scope := scopeFrom(ctx)
	scope.invitationToken = hash
	err := s.Within(ctx, scope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Where("token_hash = ?", hash).Take(&inv).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, ErrInvitationUnknown
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load invitation by token: %w", err)
	}
	switch {
	case inv.Status == InvitationRevoked:
		return nil, nil, ErrInvitationRevoked
	case inv.Status != InvitationPending:
		return nil, nil, ErrInvitationUsed
	case !s.db.NowFunc().Before(inv.ExpiresAt):
		return nil, nil, ErrInvitationExpired
	}
	t, err := s.TenantByID(ctx, inv.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return &inv, t, nil
}

// Acceptance is what accepting an invitation did.
type Acceptance struct {
	User       *User
	Tenant     *Tenant
	NewAccount bool // the invitee had no account and chose a password now
}

// AcceptInvitation makes the invitee a member. Someone new becomes a user
// with the given name and password (their email is the invitation's, never
// one from the form); an existing user just joins. Answering twice fails.
func (s *Store) AcceptInvitation(ctx context.Context, token string, newcomer NewUser) (*Acceptance, error) {
	var user *User
	created := false
	tenant, err := s.answerInvitation(ctx, token, func(ctx context.Context, tx *Store, inv *Invitation, t *Tenant) error {
		var err error
		user, created, err = tx.accept(ctx, inv, t, newcomer)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Acceptance{User: user, Tenant: tenant, NewAccount: created}, nil
}

// answerInvitation finds the open invitation token names and runs fn inside
// its company, which holding the token proved the right to act in.
func (s *Store) answerInvitation(ctx context.Context, token string, fn func(ctx context.Context, tx *Store, inv *Invitation, t *Tenant) error) (*Tenant, error) {
	var tenant *Tenant
	err := s.Tx(ctx, func(tx *Store) error {
		inv, t, err := tx.InvitationByToken(ctx, token)
		if err != nil {
			return err
		}
		tenant = t
		return tx.Within(ctx, Scope{TenantID: t.ID}, func(ctx context.Context, tx *Store) error {
			return fn(ctx, tx, inv, t)
		})
	})
	return tenant, err
}

// accept answers inv yes, inside its company, and returns the member and
// whether they are new to Canopy.
func (s *Store) accept(ctx context.Context, inv *Invitation, t *Tenant, newcomer NewUser) (*User, bool, error) {
	if err := s.respond(ctx, inv, InvitationAccepted); err != nil {
		return nil, false, err
	}
	created := false
	user, err := s.UserByEmail(ctx, inv.Email)
	if errors.Is(err, ErrNotFound) {
		newcomer.Email = inv.Email
		user, err = s.CreateUser(ctx, newcomer)
		created = true
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := s.MembershipOf(ctx, t.ID, user.ID); errors.Is(err, ErrNotFound) {
		joined := &Membership{TenantID: t.ID, UserID: user.ID, Role: inv.Role}
		if err := s.addMemberWithTemplates(asPerson(ctx, user.ID, user.Email), joined, splitIDs(inv.TemplateIDs)); err != nil {
			return nil, false, err
		}
	} else if err != nil {
		return nil, false, err
	}
	if err := s.audit(asPerson(ctx, user.ID, user.Email), t.ID, AuditInvitationAccepted, inv.target(), map[string]any{"status": InvitationPending}, map[string]any{"status": InvitationAccepted, "new_account": created}); err != nil {
		return nil, false, err
	}
	if inv.MakesOwner && t.OwnerUserID == nil {
		if err := s.setOwner(ctx, t, user.ID); err != nil {
			return nil, false, err
		}
	}
	return user, created, nil
}

// DeclineInvitation records that the invitee said no.
func (s *Store) DeclineInvitation(ctx context.Context, token string) (*Tenant, error) {
	return s.answerInvitation(ctx, token, func(ctx context.Context, tx *Store, inv *Invitation, t *Tenant) error {
		if err := tx.respond(ctx, inv, InvitationDeclined); err != nil {
			return err
		}
		return tx.audit(asPerson(ctx, 0, inv.Email), t.ID, AuditInvitationDeclined, inv.target(), map[string]any{"status": InvitationPending}, map[string]any{"status": InvitationDeclined})
	})
}

// setOwner makes the member who accepted an invitation to own t its owner
// and its Super Admin, under lockTeam's locks like every change of owner.
func (s *Store) setOwner(ctx context.Context, t *Tenant, userID int64) error {
	locked, members, err := s.lockTeam(ctx, t.ID, "user_id = ?", userID)
	if err != nil {
		return err
	}
	if locked.OwnerUserID != nil || len(members) == 0 {
		return ErrChangedMeanwhile // someone else became the owner since the invitation was read
	}
	_, err = s.makeOwner(ctx, locked, &members[0])
	if errors.Is(err, ErrOwnsAnother) {
		return FieldErrors{"email": "You already own a company, and each person can own only one. Ask the sender to choose another owner."}
	}
	if err != nil {
		return err
	}
	t.OwnerUserID = &userID
	return nil
}

func (s *Store) addMemberWithTemplates(ctx context.Context, m *Membership, templateIDs []int64) error {
	m, err := s.addMember(ctx, m)
	if err != nil {
		return err
	}
	if len(templateIDs) == 0 {
		return nil
	}
	return s.SetMemberTemplates(ctx, m.TenantID, m.ID, templateIDs)
}

// checkTemplateIDs refuses template ids that are not this tenant's, and
// holds the templates named until the transaction ends (lockTemplates), so
// none is deleted before the list naming it is saved.
func (s *Store) checkTemplateIDs(ctx context.Context, tenantID int64, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var found []int64
	if err := s.lockTemplates(s.scoped(ctx, tenantID).Model(&Template{}).Where("id IN ?", ids)).Pluck("id", &found).Error; err != nil {
		return fmt.Errorf("check templates: %w", err)
	}
	if len(found) != len(uniqueIDs(ids)) {
		return FieldErrors{"templates": "Choose templates from the list."}
	}
	return nil
}

func newInvitationToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func joinIDs(ids []int64) string {
	parts := make([]string, 0, len(ids))
	for _, id := range uniqueIDs(ids) {
		parts = append(parts, strconv.FormatInt(id, 10))
	}
	return strings.Join(parts, ",")
}

func splitIDs(s string) []int64 {
	var ids []int64
	for _, part := range strings.Split(s, ",") {
		if id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

func uniqueIDs(ids []int64) []int64 {
	seen := map[int64]bool{}
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
