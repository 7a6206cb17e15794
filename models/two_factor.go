package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// An authenticator app (RFC 6238): six digits from a shared secret and the
// time, a new code every 30 seconds. The secret is sealed by the handler
// (internal/sealbox, bound to the user) before the store sees it; the store
// keeps the sealed value, and is handed the opened secret only to check a
// code against its own clock (s.db.NowFunc, which tests set).
const (
	TOTPPeriod = 30 // seconds a code lasts
	TOTPDigits = 6
	// TOTPSkew is how many periods before and after the present a code may
	// come from: a phone's clock a little off, or a code typed as it changed.
	TOTPSkew = 1
)

// RecoveryCodeCount is how many one-time recovery codes a person gets.
const RecoveryCodeCount = 10

// Refusals of a second factor.
var (
	// ErrTOTPCodeWrong: the code is not the app's, now or a period either side.
	ErrTOTPCodeWrong = errors.New("the code is not correct")
	// ErrTOTPCodeUsed: the code was right, but it (or a later one) was
	// already accepted: a code works once, so one seen over a shoulder or
	// caught on its way cannot be replayed within its window.
	ErrTOTPCodeUsed = errors.New("the code was already used")
	// ErrTOTPAlreadyOn: setting up an app that is already confirmed.
	ErrTOTPAlreadyOn = errors.New("an authenticator app is already set up")
	// ErrTOTPSetupChanged: the secret being confirmed was replaced meanwhile
	// (another tab started setting up again).
	ErrTOTPSetupChanged = errors.New("the setup was started again elsewhere")
	// ErrRecoveryCodeWrong: not one of the person's unused recovery codes.
	ErrRecoveryCodeWrong = errors.New("the recovery code is not correct or was already used")
)

// TOTP is a person's authenticator app: the sealed shared secret, whether
// a first code confirmed it, and the time step of the last code accepted.
type TOTP struct {
	UserID       int64 `gorm:"primaryKey"`
	SecretSealed string
	ConfirmedAt  *time.Time
	LastUsedStep int64
	CreatedAt    time.Time
}

// TableName is the authenticator apps' table.
func (TOTP) TableName() string { return "user_totp" }

// Confirmed tells whether a code proved the app holds the secret.
func (t *TOTP) Confirmed() bool { return t.ConfirmedAt != nil }

// TwoFactorStatus is what Account → Two-factor shows.
type TwoFactorStatus struct {
	TOTPOn        bool // a confirmed authenticator app
	TOTPPending   bool // a secret shown but not yet confirmed by a code
	CodesLeft     int  // unused recovery codes
	Passkeys      int
	TOTPConfirmed *time.Time
}

// On tells whether the person has a second factor.
func (s TwoFactorStatus) On() bool { return s.TOTPOn || s.Passkeys > 0 }

// TwoFactorStatusOf reads a person's second factors in one statement. On
// PostgreSQL only the scope's own user sees them.
func (s *Store) TwoFactorStatusOf(ctx context.Context, userID int64) (TwoFactorStatus, error) {
	var row struct {
		ConfirmedAt *time.Time
		Pending     bool
		CodesLeft   int
		Passkeys    int
	}
	err := s.conn(ctx).Raw(`SELECT
		(SELECT confirmed_at FROM user_totp WHERE user_id = ?) AS confirmed_at,
		EXISTS (SELECT 1 FROM user_totp WHERE user_id = ? AND confirmed_at IS NULL) AS pending,
		(SELECT count(*) FROM user_recovery_codes WHERE user_id = ? AND used_at IS NULL) AS codes_left,
		(SELECT count(*) FROM user_passkeys WHERE user_id = ?) AS passkeys`, userID, userID, userID, userID).Scan(&row).Error
	if err != nil {
		return TwoFactorStatus{}, fmt.Errorf("read two-factor status: %w", err)
	}
	return TwoFactorStatus{TOTPOn: row.ConfirmedAt != nil, TOTPPending: row.Pending, CodesLeft: row.CodesLeft,
		Passkeys: row.Passkeys, TOTPConfirmed: row.ConfirmedAt}, nil
}

// TOTPOf is the person's authenticator app, confirmed or not, or ErrNotFound.
func (s *Store) TOTPOf(ctx context.Context, userID int64) (*TOTP, error) {
	var t TOTP
	if err := s.conn(ctx).Where("user_id = ?", userID).Take(&t).Error; err != nil {
		return nil, notFound(err, "read authenticator app")
	}
	return &t, nil
}

// StartTOTP keeps a new, unconfirmed secret for the person (sealed by the
// caller), replacing one not yet confirmed. A confirmed app stays as it is:
// ErrTOTPAlreadyOn (turn it off first).
func (s *Store) StartTOTP(ctx context.Context, userID int64, sealed string) error {
	if sealed == "" {
		return errors.New("start authenticator app: no secret")
	}
	res := s.conn(ctx).Exec(`INSERT INTO user_totp (user_id, secret_sealed, confirmed_at, last_used_step, created_at)
		VALUES (?, ?, NULL, 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at
		WHERE user_totp.confirmed_at IS NULL`, userID, sealed, s.db.NowFunc())
	if res.Error != nil {
		return fmt.Errorf("start authenticator app: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrTOTPAlreadyOn
	}
	return nil
}

// TOTPConfirmation is the first code from a newly set up app, with the
// secret it was shown (sealed, as kept, and opened) and the hashes of the
// recovery codes to give the person once it is right.
type TOTPConfirmation struct {
	UserID         int64
	Sealed         string
	Secret         string
	Code           string
	RecoveryHashes []string
}

// ConfirmTOTP turns the app on when the code is right: the row is
// confirmed (only if it still holds the secret shown, and is not confirmed
// yet), the code's step counts as used, the person's two-factor flag is
// recomputed and their recovery codes replaced, in one transaction.
func (s *Store) ConfirmTOTP(ctx context.Context, c TOTPConfirmation) error {
	step, err := s.matchingStep(c.Secret, c.Code)
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(tx *Store) error {
		res := tx.conn(ctx).Exec(`UPDATE user_totp SET confirmed_at = ?, last_used_step = ?
			WHERE user_id = ? AND secret_sealed = ? AND confirmed_at IS NULL`, tx.db.NowFunc(), step, c.UserID, c.Sealed)
		if res.Error != nil {
			return fmt.Errorf("confirm authenticator app: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrTOTPSetupChanged
		}
		if _, err := tx.refreshTwoFactor(ctx, c.UserID); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(ctx, c.UserID, c.RecoveryHashes)
	})
}

// UseTOTPCode accepts a code of the person's confirmed app once: the step
// it belongs to must be later than the last one accepted, which one
// conditional UPDATE raises, so two requests with the same code cannot
// both pass.
func (s *Store) UseTOTPCode(ctx context.Context, userID int64, secret, code string) error {
	step, err := s.matchingStep(secret, code)
	if err != nil {
		return err
	}
	res := s.conn(ctx).Exec(`UPDATE user_totp SET last_used_step = ?
		WHERE user_id = ? AND confirmed_at IS NOT NULL AND last_used_step < ?`, step, userID, step)
	if res.Error != nil {
		return fmt.Errorf("use authenticator code: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrTOTPCodeUsed
	}
	return nil
}

// matchingStep is the time step, within TOTPSkew of the store's present,
// whose code is code; the present first. pquerna/otp's ValidateCustom
// checks each step on its own (skew 0), since the step is what the caller
// keeps to refuse the code a second time.
func (s *Store) matchingStep(secret, code string) (int64, error) {
	code = NormalizeTOTPCode(code)
	if len(code) != TOTPDigits {
		return 0, ErrTOTPCodeWrong
	}
	now := s.db.NowFunc().Unix() / TOTPPeriod
	steps := []int64{now}
	for d := int64(1); d <= TOTPSkew; d++ {
		steps = append(steps, now-d, now+d)
	}
	for _, step := range steps {
		ok, err := totp.ValidateCustom(code, secret, time.Unix(step*TOTPPeriod, 0), TOTPOptions(0))
		if err != nil && !errors.Is(err, otp.ErrValidateInputInvalidLength) {
			return 0, fmt.Errorf("check authenticator code: %w", err)
		}
		if ok {
			return step, nil
		}
	}
	return 0, ErrTOTPCodeWrong
}

// TOTPOptions are the parameters every authenticator app is set up with
// (those the apps all support: SHA-1, six digits, 30 seconds).
func TOTPOptions(skew uint) totp.ValidateOpts {
	return totp.ValidateOpts{Period: TOTPPeriod, Skew: skew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// NormalizeTOTPCode drops the spaces and hyphens people type or paste
// inside a code.
func NormalizeTOTPCode(code string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, code)
}

// DisableTOTP removes the person's authenticator app, and their recovery
// codes when no passkey remains (they recover a second factor that is
// gone), then recomputes their two-factor flag. It tells whether a second
// factor remains; ErrNotFound when there was no confirmed app (a setup
// begun and not finished is no app to turn off).
func (s *Store) DisableTOTP(ctx context.Context, userID int64) (stillOn bool, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		res := tx.conn(ctx).Exec(`DELETE FROM user_totp WHERE user_id = ? AND confirmed_at IS NOT NULL`, userID)
		if res.Error != nil {
			return fmt.Errorf("remove authenticator app: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("remove authenticator app: %w", ErrNotFound)
		}
		if stillOn, err = tx.refreshTwoFactor(ctx, userID); err != nil {
			return err
		}
		if stillOn {
			return nil
		}
		if err := tx.conn(ctx).Exec(`DELETE FROM user_recovery_codes WHERE user_id = ?`, userID).Error; err != nil {
			return fmt.Errorf("remove recovery codes: %w", err)
		}
		return nil
	})
	return stillOn, err
}

// ReplaceRecoveryCodes drops every recovery code of the person, used or
// not, and keeps the new ones (their keyed hashes: the codes themselves
// are shown once and never stored).
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes []string) error {
	if len(hashes) != RecoveryCodeCount {
		return fmt.Errorf("replace recovery codes: %d codes, want %d", len(hashes), RecoveryCodeCount)
	}
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Exec(`DELETE FROM user_recovery_codes WHERE user_id = ?`, userID).Error; err != nil {
			return fmt.Errorf("replace recovery codes: %w", err)
		}
		now := tx.db.NowFunc()
		for _, h := range hashes {
			err := tx.conn(ctx).Exec(`INSERT INTO user_recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)`, userID, h, now).Error
			if err != nil {
				return fmt.Errorf("keep recovery code: %w", err)
			}
		}
		return nil
	})
}

// UseRecoveryCode spends one of the person's recovery codes, found by its
// keyed hash: one UPDATE that only an unused code passes, so a code works
// once even when sent twice at once. It returns how many are left.
func (s *Store) UseRecoveryCode(ctx context.Context, userID int64, hash string) (left int, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		res := tx.conn(ctx).Exec(`UPDATE user_recovery_codes SET used_at = ?
			WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`, tx.db.NowFunc(), userID, hash)
		if res.Error != nil {
			return fmt.Errorf("use recovery code: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrRecoveryCodeWrong
		}
		return tx.conn(ctx).Raw(`SELECT count(*) FROM user_recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Scan(&left).Error
	})
	return left, err
}

// SetRequireTwoFactor changes whether the tenant asks its members to sign
// in with a second factor, audited as a settings change in its log. It
// applies to this tenant's members on its own address only: the companies
// below it decide for themselves.
func (s *Store) SetRequireTwoFactor(ctx context.Context, tenantID int64, on bool) error {
	return s.Tx(ctx, func(tx *Store) error {
		t, err := tx.TenantByID(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.RequireTwoFactor == on {
			return nil
		}
		if err := tx.updateTenant(ctx, tenantID, map[string]any{"require_two_factor": on}); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditSettingsSaved, t.target(),
			map[string]any{"require_two_factor": t.RequireTwoFactor}, map[string]any{"require_two_factor": on})
	})
}

// CompaniesRequiringTwoFactor names, in order, the person's companies that
// require two-factor sign-in (at most a few), so that turning it off can
// say where it will be asked for again.
func (s *Store) CompaniesRequiringTwoFactor(ctx context.Context, userID int64) ([]string, error) {
	var names []string
	err := s.companiesOf(ctx, userID).Where("tenants.require_two_factor").
		Order(companyOrder).Limit(5).Pluck("tenants.name", &names).Error
	if err != nil {
		return nil, fmt.Errorf("list companies requiring two-factor: %w", err)
	}
	return names, nil
}
