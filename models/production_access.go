package models

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// ProductionAccessStatus is where a company's request for production keys
// stands.
type ProductionAccessStatus string

// The statuses of a request for production access.
const (
	AccessPending  ProductionAccessStatus = "pending"
	AccessApproved ProductionAccessStatus = "approved"
	AccessDeclined ProductionAccessStatus = "declined"
)

// ProductionAccessRequest is a company asking platform staff for production
// keys, and their answer.
type ProductionAccessRequest struct {
	ID                int64
	TenantID          int64
	RequestedByUserID *int64
	IntendedUse       string
	MonthlyVolume     int64
	Status            ProductionAccessStatus
	DecidedByUserID   *int64
	DecisionReason    string
	DecidedAt         *time.Time
	CreatedAt         time.Time
}

func (r *ProductionAccessRequest) auditTarget() AuditTarget {
	return AuditTarget{Type: "production_access_request", ID: r.ID, Label: "Production access"}
}

// NewProductionAccessRequest is the form asking for production access, as
// typed: the volume is checked to be a whole number here, with the other
// fields.
type NewProductionAccessRequest struct {
	IntendedUse   string
	MonthlyVolume string
}

// maxMonthlyVolume keeps the volume a number people mean, far inside int64.
const maxMonthlyVolume = 1_000_000_000_000

func (n *NewProductionAccessRequest) validate() (int64, FieldErrors) {
	errs := FieldErrors{}
	use, ok := cleanText(n.IntendedUse)
	n.IntendedUse = use
	switch l := len([]rune(use)); {
	case !ok:
		errs["intended_use"] = controlCharacterMessage
	case l == 0:
		errs["intended_use"] = "Say what you will use the API for, so that staff can approve it."
	case l > 2000:
		errs["intended_use"] = "Use at most 2,000 characters."
	}
	raw := strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(n.MonthlyVolume), ",", ""), "_", "")
	n.MonthlyVolume = strings.TrimSpace(n.MonthlyVolume)
	volume, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case raw == "":
		errs["monthly_volume"] = "Estimate how many orders a month you expect to create."
	case err != nil || volume < 1:
		errs["monthly_volume"] = "Enter a whole number of orders, 1 or more."
	case volume > maxMonthlyVolume:
		errs["monthly_volume"] = "Enter at most 1,000,000,000,000."
	}
	return volume, errs
}

// errAccessRequestPending refuses a second request while one waits
// (production_access_requests_one_pending).
var errAccessRequestPending = FieldErrors{"intended_use": "Your company already has a request waiting for platform staff. You will hear back by email."}

// errAccessAlreadyGranted refuses a request from a company that has
// production access already.
var errAccessAlreadyGranted = FieldErrors{"intended_use": "Your company already has production access: create production keys on the API keys page."}

// RequestProductionAccess records the tenant's request for production keys,
// made by the signed-in person (the context's actor), for platform staff to
// decide. A company has at most one request waiting, and none once it has
// access.
func (s *Store) RequestProductionAccess(ctx context.Context, tenantID int64, n NewProductionAccessRequest) (*ProductionAccessRequest, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	volume, errs := n.validate()
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var req *ProductionAccessRequest
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.lockTenantRow(ctx, tenantID); err != nil {
			return err
		}
		latest, err := tx.LatestProductionAccessRequest(ctx, tenantID)
		if err != nil {
			return err
		}
		if latest != nil && latest.Status == AccessPending {
			return errAccessRequestPending
		}
		if granted, err := tx.HasProductionAccess(ctx, tenantID); err != nil {
			return err
		} else if granted {
			return errAccessAlreadyGranted
		}
		req = &ProductionAccessRequest{TenantID: tenantID, IntendedUse: n.IntendedUse, MonthlyVolume: volume,
			Status: AccessPending, CreatedAt: tx.db.NowFunc()}
		if actor := ActorFrom(ctx); actor.UserID > 0 {
			req.RequestedByUserID = &actor.UserID
		}
		if err := tx.conn(ctx).Create(req).Error; err != nil {
			// The lock above makes this rare; the unique index decides.
			if violatesUnique(err, "production_access_requests_one_pending") {
				return errAccessRequestPending
			}
			return fmt.Errorf("create production access request: %w", err)
		}
		return tx.audit(ctx, tenantID, AuditProductionAccessRequested, req.auditTarget(), nil,
			map[string]any{"intended_use": req.IntendedUse, "monthly_volume": req.MonthlyVolume})
	})
	return req, err
}

// LatestProductionAccessRequest is the tenant's most recent request, which
// says where its production access stands; nil when it never asked.
func (s *Store) LatestProductionAccessRequest(ctx context.Context, tenantID int64) (*ProductionAccessRequest, error) {
	var found []ProductionAccessRequest
	err := s.scoped(ctx, tenantID).Order("created_at DESC, id DESC").Limit(1).Find(&found).Error
	if err != nil {
		return nil, fmt.Errorf("load production access request: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	return &found[0], nil
}

// AccessRequestListItem is a request as platform staff's list shows it:
// with its company and the people who asked and answered.
type AccessRequestListItem struct {
	ProductionAccessRequest
	TenantName      string
	TenantSubdomain string
	RequesterName   string
	RequesterEmail  string
	DeciderEmail    string
}

// AccessRequestPageSize is how many pending requests a page of platform
// staff's list shows; RecentDecidedAccessRequests how many decided ones.
const (
	AccessRequestPageSize       = 25
	RecentDecidedAccessRequests = 20
)

// accessRequestList is the requests joined to what a list row shows.
func (s *Store) accessRequestList(ctx context.Context) *gorm.DB {
	return s.conn(ctx).Table("production_access_requests AS r").
		Joins("JOIN tenants AS t ON t.id = r.tenant_id").
		Joins("LEFT JOIN users AS u ON u.id = r.requested_by_user_id").
		Joins("LEFT JOIN users AS d ON d.id = r.decided_by_user_id").
		Select(`r.*, t.name AS tenant_name, t.subdomain AS tenant_subdomain,
			TRIM(COALESCE(u.first_name, '') || ' ' || COALESCE(u.last_name, '')) AS requester_name,
			COALESCE(u.email, '') AS requester_email, COALESCE(d.email, '') AS decider_email`)
}

// PendingAccessRequests lists the requests for production access waiting
// for platform staff, oldest first; only the platform's scope sees them all
// (on Postgres by policy: the platform's subtree is every company).
func (s *Store) PendingAccessRequests(ctx context.Context, platformID int64, page PageRequest) (Page[AccessRequestListItem], error) {
	out := Page[AccessRequestListItem]{PageRequest: page}
	if platformID <= 0 {
		return out, ErrNoTenant
	}
	if err := s.conn(ctx).Table("production_access_requests").Where("status = ?", AccessPending).Count(&out.Total).Error; err != nil {
		return out, fmt.Errorf("count pending access requests: %w", err)
	}
	err := s.accessRequestList(ctx).Where("r.status = ?", AccessPending).
		Order("r.created_at, r.id").Limit(page.Size).Offset(page.Offset()).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list pending access requests: %w", err)
	}
	return out, nil
}

// DecidedAccessRequests lists the most recently decided requests, for
// platform staff to look back on.
func (s *Store) DecidedAccessRequests(ctx context.Context, platformID int64) ([]AccessRequestListItem, error) {
	if platformID <= 0 {
		return nil, ErrNoTenant
	}
	var out []AccessRequestListItem
	err := s.accessRequestList(ctx).Where("r.status <> ?", AccessPending).
		Order("r.decided_at DESC, r.id DESC").Limit(RecentDecidedAccessRequests).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list decided access requests: %w", err)
	}
	return out, nil
}

// AccessDecisionMailFor writes the email telling one of the company's
// Admins (to) what staff decided; the handler builds it, with links from
// the configured address.
type AccessDecisionMailFor func(r *ProductionAccessRequest, t *Tenant, to *User) NewEmail

// errDeclineNeedsReason asks staff to say why they decline.
var errDeclineNeedsReason = FieldErrors{"reason": "Say why, in a sentence the company will read."}

// DecideAccessRequestInTree is platform staff approving or declining a
// request of a company in the tree below rootID. The decision is recorded
// in the company's audit log, and its Admins and Super Admins are emailed
// it through the outbox, all in one transaction. A request decided by
// someone else since the list was read is ErrChangedMeanwhile; a request
// of another tree, or an unknown id, ErrNotFound.
func (s *Store) DecideAccessRequestInTree(ctx context.Context, rootID, requestID int64, approve bool, reason string, mail AccessDecisionMailFor) (*ProductionAccessRequest, error) {
	reason, ok := cleanText(reason)
	switch {
	case !ok:
		return nil, FieldErrors{"reason": controlCharacterMessage}
	case len([]rune(reason)) > 2000:
		return nil, FieldErrors{"reason": "Use at most 2,000 characters."}
	case !approve && reason == "":
		return nil, errDeclineNeedsReason
	}
	var req *ProductionAccessRequest
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if req, err = tx.accessRequestInTree(ctx, rootID, requestID); err != nil {
			return err
		}
		if req.Status != AccessPending {
			return fmt.Errorf("decide access request %d: it is %s: %w", req.ID, req.Status, ErrChangedMeanwhile)
		}
		status, action := AccessApproved, AuditProductionAccessApproved
		if !approve {
			status, action = AccessDeclined, AuditProductionAccessDeclined
		}
		now := tx.db.NowFunc()
		updates := map[string]any{"status": status, "decision_reason": reason, "decided_at": now}
		if actor := ActorFrom(ctx); actor.UserID > 0 {
			updates["decided_by_user_id"] = actor.UserID
			req.DecidedByUserID = &actor.UserID
		}
		res := tx.scoped(ctx, req.TenantID).Model(&ProductionAccessRequest{}).Where("id = ? AND status = ?", req.ID, AccessPending).Updates(updates)
		if err := changed(res, "decide access request"); err != nil {
			return err
		}
		req.Status, req.DecisionReason, req.DecidedAt = status, reason, &now
		after := map[string]any{"status": status}
		if reason != "" {
			after["reason"] = reason
		}
		if err := tx.audit(ctx, req.TenantID, action, req.auditTarget(), map[string]any{"status": AccessPending}, after); err != nil {
			return err
		}
		return tx.mailAccessDecision(ctx, req, mail)
	})
	return req, err
}

// accessRequestInTree locks and loads a request of rootID's company or of
// one anywhere below it: inSubtree decides where it is, then the request
// is read through scoped like any tenant's row.
func (s *Store) accessRequestInTree(ctx context.Context, rootID, requestID int64) (*ProductionAccessRequest, error) {
	if rootID <= 0 {
		return nil, ErrNoTenant
	}
	// The one column read before the tree is known to admit the row: whose
	// request it is. On Postgres row-level security already hides the
	// requests of tenants outside the request's scope.
	var owners []int64
	if err := s.conn(ctx).Table("production_access_requests").Where("id = ?", requestID).Limit(1).Pluck("tenant_id", &owners).Error; err != nil {
		return nil, fmt.Errorf("find access request: %w", err)
	}
	if len(owners) == 0 {
		return nil, fmt.Errorf("find access request: %w", ErrNotFound)
	}
	if owners[0] != rootID {
		if _, err := s.inSubtree(ctx, rootID, owners[0]); err != nil {
			return nil, err
		}
	}
	var r ProductionAccessRequest
	err := s.forUpdate(s.scoped(ctx, owners[0]).Where("id = ?", requestID)).Take(&r).Error
	return &r, notFound(err, "load access request")
}

// mailAccessDecision queues the decision's email to each of the company's
// Admins and Super Admins.
func (s *Store) mailAccessDecision(ctx context.Context, req *ProductionAccessRequest, mail AccessDecisionMailFor) error {
	if mail == nil {
		return nil
	}
	var t Tenant
	if err := s.conn(ctx).Where("id = ?", req.TenantID).Take(&t).Error; err != nil {
		return notFound(err, "load tenant")
	}
	var admins []User
	err := s.conn(ctx).Model(&User{}).
		Where("id IN (?)", s.scoped(ctx, req.TenantID).Model(&Membership{}).Select("user_id").
			Where("role IN ?", []Role{RoleAdmin, RoleSuperAdmin})).
		Order("email").Find(&admins).Error
	if err != nil {
		return fmt.Errorf("list admins to tell: %w", err)
	}
	for i := range admins {
		e := mail(req, &t, &admins[i])
		e.TenantID, e.To = req.TenantID, admins[i].Email
		if err := s.EnqueueEmail(ctx, e); err != nil {
			return err
		}
	}
	return nil
}
