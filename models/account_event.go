package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AccountAction is something that changed a person's own account: their
// password, their email, their second factors. Each is kept in their
// account's record and mailed to them, so a change they did not make does
// not go unnoticed.
type AccountAction string

// The account actions.
const (
	AccountPasswordChanged      AccountAction = "password.changed"
	AccountPasswordReset        AccountAction = "password.reset"
	AccountEmailChanged         AccountAction = "email.changed"
	AccountTOTPEnabled          AccountAction = "totp.enabled"
	AccountTOTPDisabled         AccountAction = "totp.disabled"
	AccountPasskeyAdded         AccountAction = "passkey.added"
	AccountPasskeyRemoved       AccountAction = "passkey.removed"
	AccountRecoveryCodesCreated AccountAction = "recovery_codes.created"
	AccountRecoveryCodeUsed     AccountAction = "recovery_code.used"
	AccountSessionEnded         AccountAction = "session.ended"
	AccountSessionsEnded        AccountAction = "sessions.ended"
)

// accountActionLabels is how people read each action, in the account's
// record and in the mail that tells them of it.
var accountActionLabels = map[AccountAction]string{
	AccountPasswordChanged:      "Password changed",
	AccountPasswordReset:        "Password reset from an emailed link",
	AccountEmailChanged:         "Email address changed",
	AccountTOTPEnabled:          "Authenticator app turned on",
	AccountTOTPDisabled:         "Authenticator app turned off",
	AccountPasskeyAdded:         "Passkey added",
	AccountPasskeyRemoved:       "Passkey removed",
	AccountRecoveryCodesCreated: "New recovery codes made",
	AccountRecoveryCodeUsed:     "Recovery code used to sign in",
	AccountSessionEnded:         "Signed out another browser",
	AccountSessionsEnded:        "Signed out of other browsers",
}

// Label is how people read the action.
func (a AccountAction) Label() string {
	if label, ok := accountActionLabels[a]; ok {
		return label
	}
	return string(a)
}

// AccountEvent is one change to a person's account, with where it came from.
type AccountEvent struct {
	ID        int64
	UserID    int64
	Action    AccountAction
	Detail    string
	IP        string
	UserAgent string
	CreatedAt time.Time
}

// AccountChange is a change to record: who, what, in words, and from which browser.
type AccountChange struct {
	UserID    int64
	Action    AccountAction
	Detail    string // e.g. the passkey's name; shown as it is
	UserAgent string
}

// RecordAccountEvent adds a change to the person's record, from the IP of
// the context's actor. Called inside the transaction of the change, the
// record exists exactly when the change does. It is a plain INSERT: on
// PostgreSQL a person may add to their record but change nothing in it.
func (s *Store) RecordAccountEvent(ctx context.Context, change AccountChange) error {
	if change.UserID == 0 {
		return errors.New("record account event: no user")
	}
	err := s.conn(ctx).Exec(`INSERT INTO account_events (user_id, action, detail, ip, user_agent, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		change.UserID, string(change.Action), truncateText(change.Detail, 300), truncateText(ActorFrom(ctx).IP, 64),
		truncateText(change.UserAgent, 300), s.db.NowFunc()).Error
	if err != nil {
		return fmt.Errorf("record account event: %w", err)
	}
	return nil
}

// AccountEvents is the person's record, newest first, at most limit events.
func (s *Store) AccountEvents(ctx context.Context, userID int64, limit int) ([]AccountEvent, error) {
	var events []AccountEvent
	err := s.conn(ctx).Where("user_id = ?", userID).Order("id DESC").Limit(limit).Find(&events).Error
	if err != nil {
		return nil, fmt.Errorf("load account events: %w", err)
	}
	return events, nil
}

// refreshTwoFactor recomputes whether the person has a second factor — a
// confirmed authenticator app or a passkey — after one was added or
// removed, in the same transaction. It returns the new value.
func (s *Store) refreshTwoFactor(ctx context.Context, userID int64) (bool, error) {
	var on []bool
	err := s.conn(ctx).Raw(`UPDATE users SET two_factor_enabled =
		EXISTS (SELECT 1 FROM user_totp WHERE user_id = ? AND confirmed_at IS NOT NULL)
		OR EXISTS (SELECT 1 FROM user_passkeys WHERE user_id = ?)
		WHERE id = ? RETURNING two_factor_enabled`, userID, userID, userID).Scan(&on).Error
	if err != nil {
		return false, fmt.Errorf("refresh two-factor: %w", err)
	}
	if len(on) == 0 {
		return false, fmt.Errorf("refresh two-factor: %w", ErrNotFound)
	}
	return on[0], nil
}
