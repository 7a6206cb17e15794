package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The profile: what a signed-in person changes about themselves. Every
// method acts on the request's own user, under its scope: on PostgreSQL a
// person updates only their own users row (00017) and their own
// email_changes row (00028).

// Location is the time zone the user chose for dates, or nil to use the
// company's.
func (u *User) Location() *time.Location {
	if u.TimeZone == "" {
		return nil
	}
	t := Tenant{Timezone: u.TimeZone}
	return t.Location()
}

// UpdateName saves the user's first and last name; problems are reported
// beside the fields.
func (s *Store) UpdateName(ctx context.Context, userID int64, first, last string) error {
	errs := FieldErrors{}
	validatePersonName(errs, &first, &last, true, false)
	if err := errs.Err(); err != nil {
		return err
	}
	res := s.conn(ctx).Model(&User{}).Where("id = ?", userID).
		Updates(map[string]any{"first_name": first, "last_name": last, "updated_at": s.db.NowFunc()})
	return changed(res, "save name")
}

// SetTimeZone saves the user's time zone for dates: one of Timezones, or
// "" for the company's.
func (s *Store) SetTimeZone(ctx context.Context, userID int64, zone string) error {
	if zone != "" && !slices.Contains(Timezones, zone) {
		return FieldErrors{"time_zone": "Choose a time zone from the list."}
	}
	res := s.conn(ctx).Model(&User{}).Where("id = ?", userID).
		Updates(map[string]any{"time_zone": zone, "updated_at": s.db.NowFunc()})
	return changed(res, "save time zone")
}

// EmailChangeLifetime is how long the link to confirm a new email works.
const EmailChangeLifetime = 24 * time.Hour

// EmailChange is a change of email waiting for the new address to confirm
// it. A person has at most one; a newer request replaces it.
type EmailChange struct {
	UserID    int64 `gorm:"primaryKey"`
	NewEmail  string
	TokenHash string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// TableName is the email changes' table.
func (EmailChange) TableName() string { return "email_changes" }

// ErrEmailChangeInvalid is a confirmation link that does not work: unknown,
// used, cancelled, replaced by a newer one, expired, or someone else's.
var ErrEmailChangeInvalid = errors.New("this email confirmation link no longer works")

// PendingEmailChange is the user's change of email still waiting for
// confirmation, or nil.
func (s *Store) PendingEmailChange(ctx context.Context, userID int64, now time.Time) (*EmailChange, error) {
	var changes []EmailChange
	err := s.conn(ctx).Where("user_id = ? AND expires_at > ?", userID, now.UTC()).Limit(1).Find(&changes).Error
	if err != nil {
		return nil, fmt.Errorf("load email change: %w", err)
	}
	if len(changes) == 0 {
		return nil, nil
	}
	return &changes[0], nil
}

// EmailChangeRequest is a signed-in person asking to change their email.
type EmailChangeRequest struct {
	User      *User
	NewEmail  string
	TokenHash string
	Now       time.Time
}

// RequestEmailChange records a change of email waiting for confirmation
// (replacing any earlier one) and queues the mails mails composes for it
// (the link to the new address, the notice to the old), in one
// transaction. Refused beside the field: an invalid address, the current
// one, one another account uses, and one at a domain that a required
// single sign-on covers at any company (the identity provider, not the
// person, speaks for those addresses).
func (s *Store) RequestEmailChange(ctx context.Context, r EmailChangeRequest, mails func(newEmail string) []NewEmail) error {
	email := NormalizeEmail(r.NewEmail)
	if msg := ValidateEmail(email); msg != "" {
		return FieldErrors{"email": msg}
	}
	if email == NormalizeEmail(r.User.Email) {
		return FieldErrors{"email": "This is already your email address."}
	}
	required, err := s.SSORequiresDomain(ctx, EmailDomain(email))
	if err != nil {
		return err
	}
	if required {
		return FieldErrors{"email": "Addresses at " + EmailDomain(email) + " sign in with their company's single sign-on, so they cannot be chosen here. Ask your company's administrator."}
	}
	if _, err := s.UserByEmail(ctx, email); err == nil {
		return FieldErrors{"email": emailTaken}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	now := r.Now.UTC().Truncate(time.Microsecond)
	change := EmailChange{UserID: r.User.ID, NewEmail: email, TokenHash: r.TokenHash, CreatedAt: now, ExpiresAt: now.Add(EmailChangeLifetime)}
	return s.Tx(ctx, func(tx *Store) error {
		err := tx.conn(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"new_email", "token_hash", "created_at", "expires_at"}),
		}).Create(&change).Error
		if err != nil {
			return fmt.Errorf("record email change: %w", err)
		}
		for _, m := range mails(email) {
			if err := tx.EnqueueEmail(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

const emailTaken = "Another account already uses this address."

// CancelEmailChange drops the user's pending change of email; its link
// stops working. Cancelling nothing is not an error.
func (s *Store) CancelEmailChange(ctx context.Context, userID int64) error {
	err := s.conn(ctx).Where("user_id = ?", userID).Delete(&EmailChange{}).Error
	return wrapErr(err, "cancel email change")
}

// ConfirmEmailChange changes the user's email to the address the link was
// sent to, and spends the link, in one transaction. Only the person who
// asked can use it: the link is looked up among their own changes. The
// address taken meanwhile by another account is refused beside the field
// (the database's unique index decides), and the change stays pending.
func (s *Store) ConfirmEmailChange(ctx context.Context, userID int64, tokenHash string, now time.Time) (*User, error) {
	var u *User
	err := s.Tx(ctx, func(tx *Store) error {
		var change EmailChange
		err := tx.conn(ctx).Where("user_id = ? AND token_hash = ? AND expires_at > ?", userID, tokenHash, now.UTC()).Take(&change).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrEmailChangeInvalid
		}
		if err != nil {
			return fmt.Errorf("find email change: %w", err)
		}
		required, err := tx.SSORequiresDomain(ctx, EmailDomain(change.NewEmail))
		if err != nil {
			return err
		}
		if required {
			return FieldErrors{"email": "Addresses at " + EmailDomain(change.NewEmail) + " now sign in with their company's single sign-on, so this change cannot be made."}
		}
		if err := tx.Tx(ctx, func(inner *Store) error {
			return inner.conn(ctx).Model(&User{}).Where("id = ?", userID).
				Updates(map[string]any{"email": change.NewEmail, "updated_at": tx.db.NowFunc()}).Error
		}); violatesUnique(err, "users_email_key") {
			return FieldErrors{"email": emailTaken + " Your email was not changed."}
		} else if err != nil {
			return fmt.Errorf("change email: %w", err)
		}
		if err := tx.conn(ctx).Where("user_id = ?", userID).Delete(&EmailChange{}).Error; err != nil {
			return fmt.Errorf("spend email change: %w", err)
		}
		u, err = tx.UserByID(ctx, userID)
		return err
	})
	return u, err
}

// SSORequiresDomain tells whether a required single sign-on covers the
// email domain at any company (a proven domain of a required connection).
// On PostgreSQL an owner function answers, as no scope sees every
// company's connections.
func (s *Store) SSORequiresDomain(ctx context.Context, domain string) (bool, error) {
	var required bool
	if s.Dialect() == Postgres {
		err := s.conn(ctx).Raw("SELECT canopy_sso_requires_domain(?)", domain).Scan(&required).Error
		return required, wrapErr(err, "check single sign-on domain")
	}
	err := s.conn(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM sso_domains AS d JOIN sso_connections AS c ON c.id = d.connection_id
		WHERE d.domain = lower(?) AND d.proof IN (?, ?) AND c.required)`, domain, ProofDNS, ProofStaff).Scan(&required).Error
	return required, wrapErr(err, "check single sign-on domain")
}

// ProfileCompany is one of the user's companies, with their role there.
type ProfileCompany struct {
	Company
	Role Role
}

// ProfileCompanies is one page of the companies the user can enter, by
// name, with their role in each: the Companies page's list, with roles.
func (s *Store) ProfileCompanies(ctx context.Context, userID int64, page PageRequest) (Page[ProfileCompany], error) {
	out := Page[ProfileCompany]{PageRequest: page}
	if err := countCapped(s.conn(ctx), s.reachableMemberships(ctx, userID), &out); err != nil {
		return out, fmt.Errorf("count companies: %w", err)
	}
	err := s.companiesOf(ctx, userID).Select(companyColumns + ", memberships.role").Order(companyOrder).
		Limit(page.Size).Offset(page.Offset()).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list companies: %w", err)
	}
	return out, nil
}
