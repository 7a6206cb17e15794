package models_test

import (
	"context"
	"fmt"
	"testing"

	"canopy/models"
)

// TestRLSAccountRowsAreTheirPersonsAlone: a person's account record and
// second factors are theirs: another person — a fellow member, their
// company's Super Admin, platform staff — neither reads nor writes them,
// a request with no one signed in sees none, and the record is never
// changed, even by its person.
func TestRLSAccountRowsAreTheirPersonsAlone(t *testing.T) {
	w := newRLSWorld(t)
	alice, dave := w.userID(t, "alice@acme.test"), w.userID(t, "dave@acme.test")
	seed := []string{
		"INSERT INTO account_events (user_id, action) VALUES (%d, 'password.changed')",
		"INSERT INTO user_totp (user_id, secret_sealed) VALUES (%d, 'v1.sealed')",
		"INSERT INTO user_recovery_codes (user_id, code_hash) VALUES (%d, 'hash')",
		"INSERT INTO user_passkeys (user_id, credential_id, public_key, name) VALUES (%d, '\\x01', '\\x02', 'Laptop')",
	}
	for _, sql := range seed {
		if _, err := w.try(models.Scope{UserID: dave}, fmt.Sprintf(sql, dave)); err != nil {
			t.Fatalf("dave cannot write his own row: %s: %v", sql, err)
		}
	}
	tables := []string{"account_events", "user_totp", "user_recovery_codes", "user_passkeys"}
	others := []models.Scope{
		{},
		{UserID: alice},
		{TenantID: w.tenant["acme"], Subtree: true, UserID: alice},
		{TenantID: w.tenant["admin"], Subtree: true, UserID: w.userID(t, "staff@canopy.test")},
	}
	for _, scope := range others {
		for _, table := range tables {
			var n int64
			err := w.app.Within(t.Context(), scope, func(ctx context.Context, tx *models.Store) error {
				return tx.DBForTest(ctx).Raw("SELECT count(*) FROM "+table+" WHERE user_id = ?", dave).Scan(&n).Error
			})
			if err != nil || n != 0 {
				t.Errorf("scope %+v reads %d of dave's rows in %s (err %v)", scope, n, table, err)
			}
			if rows, err := w.try(scope, "DELETE FROM "+table+" WHERE user_id = ?", dave); rows != 0 || err != nil && !refused(err) {
				t.Errorf("scope %+v deleted %d of dave's rows in %s (err %v)", scope, rows, table, err)
			}
		}
		for _, sql := range seed {
			if _, err := w.try(scope, fmt.Sprintf(sql, dave)); err == nil {
				t.Errorf("scope %+v wrote a row for dave: %s", scope, sql)
			}
		}
	}
	for _, sql := range []string{"UPDATE account_events SET detail = 'x'", "DELETE FROM account_events"} {
		if _, err := w.try(models.Scope{UserID: dave}, sql); !refused(err) {
			t.Errorf("dave changed his own record: %s: err = %v, want permission denied", sql, err)
		}
	}
}
