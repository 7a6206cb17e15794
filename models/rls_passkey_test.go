package models_test

import (
	"context"
	"testing"

	"canopy/models"
)

// TestRLSPasskeyHandlesAndOwner: a person's WebAuthn user handle is theirs
// alone and never changes; before anyone is signed in, the owner's
// function answers whose passkey a credential id is, one row for an exact
// id, and nothing else of passkeys can be read.
func TestRLSPasskeyHandlesAndOwner(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	alice, dave := w.userID(t, "alice@acme.test"), w.userID(t, "dave@acme.test")
	var handle []byte
	err := w.app.Within(ctx, models.Scope{UserID: dave}, func(ctx context.Context, tx *models.Store) error {
		var err error
		if handle, err = tx.PasskeyHandle(ctx, dave); err != nil {
			return err
		}
		_, err = tx.AddPasskey(ctx, models.NewPasskey{UserID: dave, CredentialID: []byte("dave-key"), PublicKey: []byte{1}})
		return err
	})
	if err != nil {
		t.Fatalf("dave cannot keep his own handle and passkey: %v", err)
	}

	for _, scope := range []models.Scope{{}, {UserID: alice}, {TenantID: w.tenant["acme"], Subtree: true, UserID: alice}} {
		var n int64
		err := w.app.Within(ctx, scope, func(ctx context.Context, tx *models.Store) error {
			return tx.DBForTest(ctx).Raw("SELECT count(*) FROM user_passkey_handles WHERE user_id = ?", dave).Scan(&n).Error
		})
		if err != nil || n != 0 {
			t.Errorf("scope %+v reads dave's handle (%d, %v)", scope, n, err)
		}
		if _, err := w.try(scope, "INSERT INTO user_passkey_handles (user_id, handle) VALUES (?, ?)", dave, make([]byte, 32)); err == nil {
			t.Errorf("scope %+v wrote a handle for dave", scope)
		}
		// The owner's function, from any scope: whose, by the exact id only.
		err = w.app.Within(ctx, scope, func(ctx context.Context, tx *models.Store) error {
			owner, got, err := tx.PasskeyOwner(ctx, []byte("dave-key"))
			if err != nil || owner != dave || string(got) != string(handle) {
				t.Errorf("scope %+v: owner of dave's key %d %x %v", scope, owner, got, err)
			}
			var listed int64
			if err := tx.DBForTest(ctx).Raw("SELECT count(*) FROM canopy_passkey_owner(p_credential_id => ?)", []byte("dave")).Scan(&listed).Error; err != nil || listed != 0 {
				t.Errorf("scope %+v: a prefix of an id found %d rows (%v)", scope, listed, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.try(models.Scope{UserID: dave}, "UPDATE user_passkey_handles SET handle = ? WHERE user_id = ?", make([]byte, 32), dave); !refused(err) {
		t.Errorf("dave changed his own handle: err = %v, want permission denied", err)
	}
}
