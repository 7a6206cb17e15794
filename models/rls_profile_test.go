package models_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"canopy/models"
)

// Password resets and email changes behind the database wall: reset tokens
// are reached only through the owner's functions, whatever the scope, and
// a person's pending email change is theirs alone.

func TestRLSResetTokensCannotBeRead(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	alice := w.userID(t, "alice@acme.test")
	_, hash := models.NewResetToken()
	sent, err := w.app.RequestPasswordReset(ctx, models.PasswordResetRequest{Email: "alice@acme.test", EmailKey: "k", Address: "192.0.2.1", TokenHash: hash, Now: time.Now()},
		models.NewEmail{Subject: "s", Body: "b"})
	if err != nil || !sent {
		t.Fatalf("request as a visitor: sent %v, %v", sent, err)
	}
	platformStaff := models.Scope{TenantID: w.tenant["admin"], Subtree: true, UserID: w.userID(t, "staff@canopy.test")}
	for _, scope := range []models.Scope{{}, {UserID: alice}, {TenantID: w.tenant["acme"], Subtree: true, UserID: alice}, platformStaff} {
		for _, sql := range []string{
			"SELECT count(*) FROM password_resets",
			"SELECT token_hash FROM password_resets WHERE user_id = " + fmt.Sprint(alice),
			"UPDATE password_resets SET used_at = NULL",
			"INSERT INTO password_resets (token_hash, email_key, address, created_at, expires_at) VALUES (repeat('a', 64), 'k', 'a', now(), now() + interval '1 hour')",
			"DELETE FROM password_resets",
		} {
			if _, err := w.try(scope, sql); !refused(err) {
				t.Errorf("scope %+v: %s: err = %v, want permission denied", scope, sql, err)
			}
		}
	}
	// The functions answer one token at a time, for a caller who knows it.
	var valid bool
	if err := w.appDB.Raw("SELECT canopy_password_reset_valid(?, now())", hash).Scan(&valid).Error; err != nil || !valid {
		t.Fatalf("the link's own hash: %v, %v", valid, err)
	}
	if err := w.appDB.Raw("SELECT canopy_password_reset_valid(?, now())", "%").Scan(&valid).Error; err != nil || valid {
		t.Fatalf("a pattern matched: %v, %v", valid, err)
	}
}

func TestRLSEmailChangesAreOnlyYourOwn(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	alice, dave := w.userID(t, "alice@acme.test"), w.userID(t, "dave@acme.test")
	u := &models.User{ID: alice, Email: "alice@acme.test"}
	err := w.app.Within(ctx, models.Scope{UserID: alice}, func(ctx context.Context, tx *models.Store) error {
		return tx.RequestEmailChange(ctx, models.EmailChangeRequest{User: u, NewEmail: "alice.new@example.org", TokenHash: fmt.Sprintf("%064d", 1), Now: time.Now()},
			func(string) []models.NewEmail { return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	// dave, and alice's fellow members' admins, see nothing of it and change nothing.
	for _, scope := range []models.Scope{{}, {UserID: dave}, {TenantID: w.tenant["acme"], Subtree: true, UserID: w.userID(t, "bob@globex.test")}} {
		var n int64
		err := w.app.Within(ctx, scope, func(ctx context.Context, tx *models.Store) error {
			return tx.DBForTest(ctx).Raw("SELECT count(*) FROM email_changes").Scan(&n).Error
		})
		if err != nil || n != 0 {
			t.Errorf("scope %+v sees %d email changes (%v)", scope, n, err)
		}
		if rows, err := w.try(scope, "UPDATE email_changes SET new_email = 'mallory@example.org'"); err != nil || rows != 0 {
			t.Errorf("scope %+v changed %d (%v)", scope, rows, err)
		}
		if _, err := w.try(scope, "INSERT INTO email_changes (user_id, new_email, token_hash, created_at, expires_at) VALUES (?, 'm@example.org', repeat('b', 64), now(), now() + interval '1 day')", alice); err == nil {
			t.Errorf("scope %+v inserted a change for alice", scope)
		}
		if _, err := tx(w, scope).ConfirmEmailChange(ctx, alice, fmt.Sprintf("%064d", 1), time.Now()); err == nil {
			t.Errorf("scope %+v confirmed alice's change", scope)
		}
	}
	if rows, err := w.try(models.Scope{UserID: alice}, "UPDATE email_changes SET created_at = created_at"); err != nil || rows != 1 {
		t.Fatalf("alice's own change: %d, %v", rows, err)
	}
}

// tx is a store that runs each call in scope, as one request.
func tx(w *rlsWorld, scope models.Scope) scopedStore { return scopedStore{w, scope} }

type scopedStore struct {
	w     *rlsWorld
	scope models.Scope
}

func (s scopedStore) ConfirmEmailChange(ctx context.Context, userID int64, tokenHash string, now time.Time) (*models.User, error) {
	var u *models.User
	err := s.w.app.Within(ctx, s.scope, func(ctx context.Context, tx *models.Store) error {
		var err error
		u, err = tx.ConfirmEmailChange(ctx, userID, tokenHash, now)
		return err
	})
	return u, err
}
