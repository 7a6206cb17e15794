package models_test

import (
	"context"
	"errors"
	"testing"

	"canopy/models"
)

// TestPasskeysKeptPerPerson: a person's handle is made once; passkeys get
// a default name when none is given (the provider's, else "Passkey N"),
// made unique; a name is trimmed and checked; the same credential cannot
// be added twice; another person's passkey cannot be renamed or removed;
// the owner of a credential is found by its id; the account has a second
// factor exactly while it has a passkey.
func TestPasskeysKeptPerPerson(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	me := w.alice.ID

	handle, err := w.store.PasskeyHandle(ctx, me)
	if err != nil || len(handle) != 32 {
		t.Fatalf("handle %x, %v", handle, err)
	}
	if again, _ := w.store.PasskeyHandle(ctx, me); string(again) != string(handle) {
		t.Fatal("the handle changed")
	}
	if other, _ := w.store.PasskeyHandle(ctx, bob.ID); string(other) == string(handle) {
		t.Fatal("two people share a handle")
	}

	add := func(id, name, known string) (*models.Passkey, error) {
		return w.store.AddPasskey(ctx, models.NewPasskey{UserID: me, CredentialID: []byte(id), PublicKey: []byte{1}, Name: name, DefaultName: known})
	}
	for _, tc := range []struct{ id, name, known, want string }{
		{"k1", "", "", "Passkey 1"},
		{"k2", "", "iCloud Keychain", "iCloud Keychain"},
		{"k3", "", "iCloud Keychain", "iCloud Keychain 2"},
		{"k4", "  Work\tlaptop ", "iCloud Keychain", "Work laptop"},
		{"k5", "", "", "Passkey 5"},
	} {
		p, err := add(tc.id, tc.name, tc.known)
		if err != nil || p.Name != tc.want {
			t.Fatalf("added %q (given %q, known %q): %v, want %q", p.Name, tc.name, tc.known, err, tc.want)
		}
	}
	if _, err := add("k1", "Again", ""); !errors.Is(err, models.ErrPasskeyExists) {
		t.Fatalf("the same credential again: %v", err)
	}
	var fields models.FieldErrors
	if _, err := add("k7", "x123456789x123456789x123456789x123456789x123456789x123456789x", ""); !errors.As(err, &fields) {
		t.Fatalf("a name of 61 characters: %v", err)
	}

	keys, err := w.store.Passkeys(ctx, me)
	if err != nil || len(keys) != 5 {
		t.Fatalf("%d passkeys, %v", len(keys), err)
	}
	if !twoFactorOf(t, w, me) {
		t.Fatal("passkeys added, no second factor")
	}
	if _, err := w.store.RenamePasskey(ctx, bob.ID, keys[0].ID, "Mine"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("bob renamed alice's passkey: %v", err)
	}
	if _, err := w.store.RemovePasskey(ctx, bob.ID, keys[0].ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("bob removed alice's passkey: %v", err)
	}
	if _, err := w.store.RenamePasskey(ctx, me, keys[0].ID, "   "); !errors.As(err, &fields) {
		t.Fatalf("a blank name: %v", err)
	}
	if p, err := w.store.RenamePasskey(ctx, me, keys[0].ID, " Phone "); err != nil || p.Name != "Phone" {
		t.Fatalf("renamed %+v, %v", p, err)
	}

	owner, got, err := w.store.PasskeyOwner(ctx, []byte("k3"))
	if err != nil || owner != me || string(got) != string(handle) {
		t.Fatalf("owner of k3: %d %x %v", owner, got, err)
	}
	if _, _, err := w.store.PasskeyOwner(ctx, []byte("nobody's")); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("an unknown credential: %v", err)
	}

	// The counter only moves forward.
	use := models.PasskeyUse{UserID: me, PasskeyID: keys[1].ID, SignCount: 7, BackupState: true}
	if err := w.store.NotePasskeyUsed(ctx, use); err != nil {
		t.Fatal(err)
	}
	if err := w.store.NotePasskeyUsed(ctx, use); !errors.Is(err, models.ErrChangedMeanwhile) {
		t.Fatalf("the same counter twice: %v", err)
	}

	for _, k := range keys {
		if _, err := w.store.RemovePasskey(ctx, me, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	if twoFactorOf(t, w, me) {
		t.Fatal("every passkey removed, still a second factor")
	}
}

func twoFactorOf(t *testing.T, w world, userID int64) bool {
	t.Helper()
	u, err := w.store.UserByID(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.TwoFactorEnabled
}
