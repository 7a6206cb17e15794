package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"canopy/internal/apikey"
	"canopy/models"
)

var testHasher = apikey.NewHasher([]byte("test api key hash key"))

// madeKey is a key as the handler makes it: the key itself, and what the
// store keeps of it.
func madeKey(t *testing.T, production bool) (apikey.Key, models.HashedAPIKey) {
	t.Helper()
	k, err := apikey.New(production)
	if err != nil {
		t.Fatal(err)
	}
	return k, models.HashedAPIKey{Hash: testHasher.Hash(k), Prefix: k.Prefix(), Last4: k.Last4()}
}

func createKey(t *testing.T, s *models.Store, tenantID int64, name string, env models.APIEnvironment) (apikey.Key, *models.APIKey, error) {
	t.Helper()
	k, hashed := madeKey(t, env == models.APIProduction)
	stored, err := s.CreateAPIKey(context.Background(), tenantID,
		models.NewAPIKey{Name: name, Environment: env, Scopes: []models.APIScope{models.ScopeOrdersRead, models.ScopeDevicesWrite}}, hashed)
	return k, stored, err
}

func mustCreateKey(t *testing.T, s *models.Store, tenantID int64, name string, env models.APIEnvironment) (apikey.Key, *models.APIKey) {
	t.Helper()
	k, stored, err := createKey(t, s, tenantID, name, env)
	if err != nil {
		t.Fatal(err)
	}
	return k, stored
}

// grantProductionAccess has staff approve a request of the tenant.
func grantProductionAccess(t *testing.T, s *models.Store, rootID, tenantID int64) {
	t.Helper()
	ctx := context.Background()
	req, err := s.RequestProductionAccess(ctx, tenantID, models.NewProductionAccessRequest{IntendedUse: "Tests", MonthlyVolume: "10"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideAccessRequestInTree(ctx, rootID, req.ID, true, "", nil); err != nil {
		t.Fatal(err)
	}
}

// TestCreateAPIKey: a valid key is stored with its creator and audited;
// production keys need production access; each environment holds at most
// MaxActiveAPIKeys working keys, revoked ones not counted.
func TestCreateAPIKey(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := models.WithActor(context.Background(), models.Actor{UserID: tr.alice.ID, Email: "alice@acme.test"})
	_, hashed := madeKey(t, false)
	for _, c := range []struct {
		name  string
		in    models.NewAPIKey
		field string
	}{
		{"no name", models.NewAPIKey{Name: "  ", Environment: models.APISandbox, Scopes: []models.APIScope{models.ScopeOrdersRead}}, "name"},
		{"a long name", models.NewAPIKey{Name: strings.Repeat("k", 101), Environment: models.APISandbox, Scopes: []models.APIScope{models.ScopeOrdersRead}}, "name"},
		{"no scope", models.NewAPIKey{Name: "CI", Environment: models.APISandbox}, "scopes"},
		{"an unknown scope", models.NewAPIKey{Name: "CI", Environment: models.APISandbox, Scopes: []models.APIScope{"root"}}, "scopes"},
		{"an unknown environment", models.NewAPIKey{Name: "CI", Environment: "staging", Scopes: []models.APIScope{models.ScopeOrdersRead}}, "environment"},
		{"production before access", models.NewAPIKey{Name: "CI", Environment: models.APIProduction, Scopes: []models.APIScope{models.ScopeOrdersRead}}, "environment"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.CreateAPIKey(ctx, tr.acme.ID, c.in, hashed); fieldError(err, c.field) == "" {
				t.Fatalf("err %v, want a message for %s", err, c.field)
			}
		})
	}
	k, err := s.CreateAPIKey(ctx, tr.acme.ID, models.NewAPIKey{Name: " Billing ", Environment: models.APISandbox,
		Scopes: []models.APIScope{models.ScopeMembersRead, models.ScopeOrdersRead, models.ScopeOrdersRead}}, hashed)
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "Billing" || k.Scopes != "orders:read members:read" || k.CreatedByUserID == nil || *k.CreatedByUserID != tr.alice.ID {
		t.Errorf("stored %+v", k)
	}
	for i := 1; i < models.MaxActiveAPIKeys; i++ {
		mustCreateKey(t, s, tr.acme.ID, fmt.Sprintf("Key %d", i), models.APISandbox)
	}
	if _, _, err := createKey(t, s, tr.acme.ID, "Eleventh", models.APISandbox); fieldError(err, "name") == "" {
		t.Fatalf("an eleventh working key: %v", err)
	}
	if _, err := s.RevokeAPIKey(ctx, tr.acme.ID, k.ID); err != nil {
		t.Fatal(err)
	}
	_, replacing := mustCreateKey(t, s, tr.acme.ID, "In place of the revoked", models.APISandbox)
	// A roll replaces an active key with another: the limit still holds.
	_, rollHashed := madeKey(t, false)
	if _, _, err := s.RollAPIKey(ctx, tr.acme.ID, replacing.ID, 24*time.Hour, rollHashed); err != nil {
		t.Fatal(err)
	}
	if _, _, err := createKey(t, s, tr.acme.ID, "Eleventh after a roll", models.APISandbox); fieldError(err, "name") == "" {
		t.Fatalf("an eleventh active key after a roll: %v", err)
	}
	// Another company, and another environment, have limits of their own.
	mustCreateKey(t, s, tr.globex.ID, "Globex", models.APISandbox)
	grantProductionAccess(t, s, tr.platform.ID, tr.acme.ID)
	_, live := mustCreateKey(t, s, tr.acme.ID, "Live", models.APIProduction)
	if live.Prefix != apikey.ProductionPrefix || live.Environment != models.APIProduction {
		t.Errorf("a production key %+v", live)
	}
	// Access is the company's own, not its children's.
	if _, _, err := createKey(t, s, tr.eu.ID, "EU live", models.APIProduction); fieldError(err, "environment") == "" {
		t.Errorf("a child's production key on its parent's access: %v", err)
	}
	var created int64
	if err := s.DBForTest(context.Background()).Table("audit_events").Where("tenant_id = ? AND action = ?", tr.acme.ID, models.AuditAPIKeyCreated).Count(&created).Error; err != nil {
		t.Fatal(err)
	}
	if created != int64(models.MaxActiveAPIKeys)+2 {
		t.Errorf("%d api_key.created events", created)
	}
}

// TestRevokeAndRollAPIKey: revoking stops a key at once; rolling issues a
// new key and stops the old one after the chosen grace; a stopped key is
// neither revoked nor rolled again; another company's key is not found.
func TestRevokeAndRollAPIKey(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := context.Background()
	revokeMe, revoked := mustCreateKey(t, s, tr.acme.ID, "Revoke me", models.APISandbox)
	rollMe, old := mustCreateKey(t, s, tr.acme.ID, "Roll me", models.APISandbox)
	_, globex := mustCreateKey(t, s, tr.globex.ID, "Globex", models.APISandbox)

	if _, err := s.RevokeAPIKey(ctx, tr.acme.ID, globex.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("revoking another company's key: %v", err)
	}
	got, err := s.RevokeAPIKey(ctx, tr.acme.ID, revoked.ID)
	if err != nil || got.RevokedAt == nil {
		t.Fatalf("revoke: %+v, %v", got, err)
	}
	if _, err := s.RevokeAPIKey(ctx, tr.acme.ID, revoked.ID); !errors.Is(err, models.ErrAPIKeyRevoked) {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := s.APIKeyByHash(ctx, tr.acme.ID, testHasher.Hash(revokeMe)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a revoked key authenticates: %v", err)
	}

	newKey, hashed := madeKey(t, false)
	if _, _, err := s.RollAPIKey(ctx, tr.acme.ID, old.ID, 5*time.Hour, hashed); fieldError(err, "expires_in") == "" {
		t.Errorf("a grace not offered: %v", err)
	}
	if _, _, err := s.RollAPIKey(ctx, tr.acme.ID, globex.ID, time.Hour, hashed); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("rolling another company's key: %v", err)
	}
	before := time.Now()
	was, rolled, err := s.RollAPIKey(ctx, tr.acme.ID, old.ID, time.Hour, hashed)
	if err != nil {
		t.Fatal(err)
	}
	if was.ExpiresAt == nil || was.ExpiresAt.Sub(before) < 59*time.Minute || was.ExpiresAt.Sub(before) > 61*time.Minute ||
		was.RolledToID == nil || *was.RolledToID != rolled.ID {
		t.Errorf("the old key after its roll: %+v", was)
	}
	if rolled.Name != old.Name || rolled.Scopes != old.Scopes || rolled.Last4 != newKey.Last4() {
		t.Errorf("the rolled key %+v", rolled)
	}
	// Both work during the grace.
	for name, k := range map[string]apikey.Key{"old": rollMe, "new": newKey} {
		if _, err := s.APIKeyByHash(ctx, tr.acme.ID, testHasher.Hash(k)); err != nil {
			t.Errorf("the %s key during the grace: %v", name, err)
		}
	}
	// A key is rolled once: rolling it again during its grace would issue
	// keys past the limit and stretch the grace.
	_, hashedAgain := madeKey(t, false)
	if _, _, err := s.RollAPIKey(ctx, tr.acme.ID, old.ID, 7*24*time.Hour, hashedAgain); !errors.Is(err, models.ErrAPIKeyRolled) {
		t.Errorf("rolling a rolled key again: %v, want ErrAPIKeyRolled", err)
	}
	if again, err := s.APIKeyOf(ctx, tr.acme.ID, old.ID); err != nil || !again.ExpiresAt.Equal(*was.ExpiresAt) {
		t.Errorf("the old key's grace after a second roll was refused: %+v, %v", again, err)
	}
	// Rolled with no grace, the old key stops at once.
	nowKey, nowOld := mustCreateKey(t, s, tr.acme.ID, "Roll now", models.APISandbox)
	_, hashed2 := madeKey(t, false)
	if _, _, err := s.RollAPIKey(ctx, tr.acme.ID, nowOld.ID, 0, hashed2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyByHash(ctx, tr.acme.ID, testHasher.Hash(nowKey)); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("a key rolled with no grace still works: %v", err)
	}
	if _, err := s.RevokeAPIKey(ctx, tr.acme.ID, nowOld.ID); !errors.Is(err, models.ErrAPIKeyRevoked) {
		t.Errorf("revoking an expired key: %v", err)
	}
	var rolledEvents int64
	s.DBForTest(ctx).Table("audit_events").Where("tenant_id = ? AND action = ?", tr.acme.ID, models.AuditAPIKeyRolled).Count(&rolledEvents)
	if rolledEvents != 2 {
		t.Errorf("%d api_key.rolled events, want 2", rolledEvents)
	}
}

// TestAPIKeyByHashIsTheTenantsOwn: a key is found by its keyed hash among
// its own company's keys only.
func TestAPIKeyByHashIsTheTenantsOwn(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := context.Background()
	acmeKey, stored := mustCreateKey(t, s, tr.acme.ID, "Acme", models.APISandbox)
	globexKey, _ := mustCreateKey(t, s, tr.globex.ID, "Globex", models.APISandbox)
	got, err := s.APIKeyByHash(ctx, tr.acme.ID, testHasher.Hash(acmeKey))
	if err != nil || got.ID != stored.ID {
		t.Fatalf("own key: %+v, %v", got, err)
	}
	for name, c := range map[string]struct {
		tenant int64
		hash   string
	}{
		"another company's key":           {tr.acme.ID, testHasher.Hash(globexKey)},
		"the parent's key on a child":     {tr.eu.ID, testHasher.Hash(acmeKey)},
		"the key hashed with another key": {tr.acme.ID, apikey.NewHasher([]byte("other")).Hash(acmeKey)},
		"an unknown hash":                 {tr.acme.ID, strings.Repeat("0", 64)},
	} {
		if _, err := s.APIKeyByHash(ctx, c.tenant, c.hash); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestNoteAPIKeyUsedAtMostOnceAMinute: a key's use is written when what is
// recorded is more than a minute old, not on every call, even by a caller
// holding a stale copy of the key.
func TestNoteAPIKeyUsedAtMostOnceAMinute(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := context.Background()
	secret, _ := mustCreateKey(t, s, tr.acme.ID, "Acme", models.APISandbox)
	stale, err := s.APIKeyByHash(ctx, tr.acme.ID, testHasher.Hash(secret))
	if err != nil || stale.LastUsedAt != nil {
		t.Fatalf("a new key: %+v, %v", stale, err)
	}
	lastUsed := func() time.Time {
		k, err := s.APIKeyOf(ctx, tr.acme.ID, stale.ID)
		if err != nil || k.LastUsedAt == nil {
			t.Fatalf("last used: %+v, %v", k, err)
		}
		return *k.LastUsedAt
	}
	fresh := *stale
	if err := s.NoteAPIKeyUsed(ctx, &fresh); err != nil || fresh.LastUsedAt == nil {
		t.Fatal(err)
	}
	first := lastUsed()
	time.Sleep(20 * time.Millisecond)
	copyOfStale := *stale // as another call read it before the first note
	if err := s.NoteAPIKeyUsed(ctx, &copyOfStale); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("written again within the minute: %v, then %v", first, got)
	}
	if err := s.ExecForTest(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", first.Add(-2*time.Minute), stale.ID); err != nil {
		t.Fatal(err)
	}
	again := *stale
	if err := s.NoteAPIKeyUsed(ctx, &again); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.After(first) {
		t.Errorf("not written after a minute: %v", got)
	}
}

// TestAPIKeyIsStoredAsItsKeyedHash: the row holds the HMAC of the key, its
// prefix and last 4, and nothing else of it; no audit row holds it either.
func TestAPIKeyIsStoredAsItsKeyedHash(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := context.Background()
	for _, env := range []models.APIEnvironment{models.APISandbox, models.APIProduction} {
		if env == models.APIProduction {
			grantProductionAccess(t, s, tr.platform.ID, tr.acme.ID)
		}
		secret, stored := mustCreateKey(t, s, tr.acme.ID, "Stored", env)
		var row map[string]any
		if err := s.DBForTest(ctx).Table("api_keys").Where("id = ?", stored.ID).Take(&row).Error; err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(row["secret_hash"]) != testHasher.Hash(secret) || fmt.Sprint(row["last4"]) != secret.Last4() || fmt.Sprint(row["prefix"]) != secret.Prefix() {
			t.Errorf("%s row %v", env, row)
		}
		body := secret.Secret[len(secret.Prefix()):]
		for col, v := range row {
			if s := fmt.Sprint(v); strings.Contains(s, body[:12]) || strings.Contains(s, body[len(body)-12:]) {
				t.Errorf("%s: column %s holds part of the key: %s", env, col, s)
			}
		}
		var audit []string
		s.DBForTest(ctx).Raw("SELECT target_label || ' ' || COALESCE(before, '') || ' ' || COALESCE(after, '') FROM audit_events").Scan(&audit)
		for _, a := range audit {
			if strings.Contains(a, body[:12]) {
				t.Errorf("an audit row holds the key: %s", a)
			}
		}
	}
}
