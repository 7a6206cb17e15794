package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Forgotten passwords. Someone who types an email on the forgot-password
// form gets the same answer whether or not it has an account, and the
// store does the same work either way: one lookup of the address, one row
// written with a token's hash (the row of an unknown address can never be
// used), and the mail queued only for an active account. The rows are also
// the rate limits' counts. On PostgreSQL the application role cannot read
// the table at all: owner functions (migration 00028) do each step.

// PasswordResetLifetime is how long a reset link works.
const PasswordResetLifetime = 30 * time.Minute

// The rate limits of the forgot-password form, per hour: mails to one
// address, and requests from one client address. Past them the form's
// answer stays the same, and no mail is sent. Signing in is not affected.
const (
	PasswordResetsPerEmail   = 3
	PasswordResetsPerAddress = 20
)

// ErrResetLinkInvalid is a reset link that does not work: unknown, used,
// expired, or voided by a newer link or a password change.
var ErrResetLinkInvalid = errors.New("this password reset link no longer works")

// NewResetToken is a random token for a link (256 bits) and its SHA-256,
// which alone is stored.
func NewResetToken() (token, hash string) { return newInvitationToken() }

// HashResetToken is the stored form of a token from a link.
func HashResetToken(token string) string { return hashToken(token) }

// PasswordResetRequest is one use of the forgot-password form.
type PasswordResetRequest struct {
	Email     string // as typed
	EmailKey  string // a keyed hash of the canonical email: the table keeps no address
	Address   string // the client's address (or IPv6 /64)
	TokenHash string
	Now       time.Time
}

// passwordReset is a row of password_resets (SQLite's way; on PostgreSQL
// only the owner's functions touch it).
type passwordReset struct {
	ID           int64
	TokenHash    string
	UserID       *int64
	EmailKey     string
	Address      string
	PasswordMark string
	CreatedAt    time.Time
	ExpiresAt    time.Time
	UsedAt       *time.Time
}

func (passwordReset) TableName() string { return "password_resets" }

// RequestPasswordReset records a request and, when the email is an active
// account's and neither limit is reached, voids its older links and queues
// mail (the message composed beforehand, To filled here), in one
// transaction. It tells whether mail was queued; the caller's answer must
// not depend on it.
func (s *Store) RequestPasswordReset(ctx context.Context, r PasswordResetRequest, mail NewEmail) (bool, error) {
	now := r.Now.UTC().Truncate(time.Microsecond)
	expires := now.Add(PasswordResetLifetime)
	var sent bool
	err := s.Tx(ctx, func(tx *Store) error {
		var users []User
		if tx.Dialect() == Postgres {
			err := tx.conn(ctx).Raw("SELECT * FROM canopy_request_password_reset(?, ?, ?, ?, ?, ?, ?, ?)",
				CanonicalEmail(r.Email), r.EmailKey, r.Address, r.TokenHash, now, expires, PasswordResetsPerEmail, PasswordResetsPerAddress).
				Scan(&users).Error
			if err != nil {
				return fmt.Errorf("request password reset: %w", err)
			}
		} else if err := tx.requestResetSQLite(ctx, r, now, expires, &users); err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		sent = true
		mail.To = users[0].Email
		return tx.EnqueueEmail(ctx, mail)
	})
	return sent, err
}

// requestResetSQLite is canopy_request_password_reset for SQLite, where one
// writer at a time keeps the counts exact.
func (s *Store) requestResetSQLite(ctx context.Context, r PasswordResetRequest, now, expires time.Time, users *[]User) error {
	db := s.conn(ctx)
	if err := db.Where("created_at < ?", now.Add(-24*time.Hour)).Delete(&passwordReset{}).Error; err != nil {
		return fmt.Errorf("sweep password resets: %w", err)
	}
	var u User
	found := db.Table("users").Where("lower(email) = ? AND status = ?", CanonicalEmail(r.Email), UserActive).Limit(1).Find(&u)
	if found.Error != nil {
		return fmt.Errorf("request password reset: %w", found.Error)
	}
	var mails, requests int64
	hourAgo := now.Add(-time.Hour)
	if err := db.Model(&passwordReset{}).Where("email_key = ? AND user_id IS NOT NULL AND created_at > ?", r.EmailKey, hourAgo).Count(&mails).Error; err != nil {
		return fmt.Errorf("count password resets: %w", err)
	}
	if err := db.Model(&passwordReset{}).Where("address = ? AND created_at > ?", r.Address, hourAgo).Count(&requests).Error; err != nil {
		return fmt.Errorf("count password resets: %w", err)
	}
	row := passwordReset{TokenHash: r.TokenHash, EmailKey: r.EmailKey, Address: r.Address, CreatedAt: now, ExpiresAt: expires}
	if found.RowsAffected == 1 && mails < PasswordResetsPerEmail && requests < PasswordResetsPerAddress {
		mark, err := s.passwordMark(ctx, u.ID)
		if err != nil {
			return err
		}
		if err := db.Model(&passwordReset{}).Where("user_id = ? AND used_at IS NULL", u.ID).Update("used_at", now).Error; err != nil {
			return fmt.Errorf("void older password resets: %w", err)
		}
		row.UserID, row.PasswordMark = &u.ID, mark
		*users = append(*users, u)
	}
	if err := db.Create(&row).Error; err != nil {
		return fmt.Errorf("record password reset: %w", err)
	}
	return nil
}

// passwordMark is the SHA-256 of the user's password hash ("" for none): a
// link remembers it, and any password change since voids the link.
func (s *Store) passwordMark(ctx context.Context, userID int64) (string, error) {
	var hashes []string
	if err := s.conn(ctx).Model(&userPassword{}).Where("user_id = ?", userID).Pluck("hash", &hashes).Error; err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(hashes) == 0 {
		return "", nil
	}
	sum := sha256.Sum256([]byte(hashes[0]))
	return hex.EncodeToString(sum[:]), nil
}

// PasswordResetValid tells whether a reset link still works.
func (s *Store) PasswordResetValid(ctx context.Context, tokenHash string, now time.Time) (bool, error) {
	now = now.UTC()
	if s.Dialect() == Postgres {
		var ok bool
		err := s.conn(ctx).Raw("SELECT canopy_password_reset_valid(?, ?)", tokenHash, now).Scan(&ok).Error
		return ok, wrapErr(err, "check password reset")
	}
	_, err := s.openReset(ctx, tokenHash, now)
	if errors.Is(err, ErrResetLinkInvalid) {
		return false, nil
	}
	return err == nil, err
}

// openReset is the SQLite side of canopy_password_reset_valid: the link's
// row, or ErrResetLinkInvalid.
func (s *Store) openReset(ctx context.Context, tokenHash string, now time.Time) (*passwordReset, error) {
	var r passwordReset
	err := s.conn(ctx).Where("token_hash = ? AND user_id IS NOT NULL AND used_at IS NULL AND expires_at > ?", tokenHash, now).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrResetLinkInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("find password reset: %w", err)
	}
	var u User
	if err := s.conn(ctx).Where("id = ?", *r.UserID).Take(&u).Error; err != nil {
		return nil, fmt.Errorf("find password reset: %w", err)
	}
	mark, err := s.passwordMark(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if u.Status != UserActive || mark != r.PasswordMark {
		return nil, ErrResetLinkInvalid
	}
	return &r, nil
}

// PasswordReset is what the reset form sends.
type PasswordReset struct {
	TokenHash string
	New       string
	Confirm   string
	Now       time.Time
	UserAgent string // the browser the link was opened in, for the account's activity
}

func (p PasswordReset) validate() FieldErrors {
	errs := FieldErrors{}
	switch msg := ValidatePassword(p.New); {
	case p.New == "":
		errs["new_password"] = "Enter a new password."
	case msg != "":
		errs["new_password"] = msg
	case p.Confirm == "":
		errs["confirm_password"] = "Enter the new password again."
	case p.Confirm != p.New:
		errs["confirm_password"] = "The two passwords do not match."
	}
	return errs
}

// ResetPassword sets a new password through a reset link and, in the same
// transaction, spends every link of the account, ends every session of it
// (session_version) and queues the notice (composed by notice for the
// account). It signs nobody in. A link that does not work is
// ErrResetLinkInvalid; a password that will not do, FieldErrors.
func (s *Store) ResetPassword(ctx context.Context, p PasswordReset, notice func(*User) NewEmail) (*User, error) {
	if err := p.validate().Err(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(p.New)
	if err != nil {
		return nil, err
	}
	now := p.Now.UTC().Truncate(time.Microsecond)
	var changed *User
	err = s.Tx(ctx, func(tx *Store) error {
		var users []User
		if tx.Dialect() == Postgres {
			if err := tx.conn(ctx).Raw("SELECT * FROM canopy_reset_password(?, ?, ?)", p.TokenHash, hash, now).Scan(&users).Error; err != nil {
				return fmt.Errorf("reset password: %w", err)
			}
		} else if err := tx.resetPasswordSQLite(ctx, p.TokenHash, hash, now, &users); err != nil {
			return err
		}
		if len(users) == 0 {
			return ErrResetLinkInvalid
		}
		changed = &users[0]
		if err := tx.EnqueueEmail(ctx, notice(changed)); err != nil {
			return err
		}
		// The link named its person: their sessions and activity are theirs
		// alone to end and write. The new session version already ended
		// every session; their records go too, so none is listed or counted.
		return tx.Within(ctx, Scope{UserID: changed.ID}, func(ctx context.Context, tx *Store) error {
			if err := tx.endAllSessionRecords(ctx, changed.ID); err != nil {
				return err
			}
			return tx.RecordAccountEvent(ctx, AccountChange{UserID: changed.ID, Action: AccountPasswordReset, UserAgent: p.UserAgent})
		})
	})
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// resetPasswordSQLite is canopy_reset_password for SQLite.
func (s *Store) resetPasswordSQLite(ctx context.Context, tokenHash, hash string, now time.Time, users *[]User) error {
	r, err := s.openReset(ctx, tokenHash, now)
	if errors.Is(err, ErrResetLinkInvalid) {
		return nil
	}
	if err != nil {
		return err
	}
	db := s.conn(ctx)
	userID := *r.UserID
	if err := db.Model(&passwordReset{}).Where("user_id = ? AND used_at IS NULL", userID).Update("used_at", now).Error; err != nil {
		return fmt.Errorf("spend password resets: %w", err)
	}
	err = db.Exec(`INSERT INTO user_passwords (user_id, hash, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at`, userID, hash, s.db.NowFunc()).Error
	if err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	if err := db.Model(&User{}).Where("id = ?", userID).Update("session_version", gorm.Expr("session_version + 1")).Error; err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	var u User
	if err := db.Where("id = ?", userID).Take(&u).Error; err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	*users = append(*users, u)
	return nil
}
