package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are the keys derived from the one configured secret.
type Secrets struct {
	SessionHash  []byte // signs session cookies
	SessionBlock []byte // encrypts session cookies
	Handoff      []byte // signs cross-subdomain hand-off tokens
	Device       []byte // signs device cookies, which exempt a known browser from others' sign-in failures
	// SignInCounter names an account's sign-in counter by a keyed hash of
	// its email, so the counters' table does not list who tried to sign in.
	SignInCounter []byte
	// DatabaseScope signs each transaction's row-level security scope; the
	// database holds it too, where the server's own role cannot read it.
	DatabaseScope []byte
	// SSOClientSecret seals single sign-on connections' client secrets at rest.
	SSOClientSecret []byte
	// SSOState seals the short-lived cookie that carries a single sign-on
	// attempt (state, nonce, PKCE verifier) from its start to its callback.
	SSOState      []byte
	SSOStateBlock []byte // encrypts that cookie
	// APIKeyHash keys the HMAC-SHA256 that API keys are stored as, so a
	// copy of the database cannot be searched for a key without it.
	APIKeyHash []byte
	// WebhookSecret seals webhook endpoints' signing secrets at rest.
	WebhookSecret []byte
	// TOTPSecret seals authenticator apps' shared secrets at rest.
	TOTPSecret []byte
	// RecoveryCode keys the HMAC-SHA256 that two-factor recovery codes are
	// stored as, so a copy of the database cannot be searched for a code.
	RecoveryCode []byte
}

const secretFile = "session.key"

// LoadSecrets derives Canopy's keys from CANOPY_SESSION_KEY, or, when that is
// empty (development), from a random secret generated once and kept in the
// data folder, so sessions survive restarts without any setup.
func (c *Config) LoadSecrets() (*Secrets, error) {
	master, err := c.masterSecret()
	if err != nil {
		return nil, err
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("canopy/" + label))
		return m.Sum(nil)
	}
	return &Secrets{SessionHash: derive("session-hash"), SessionBlock: derive("session-block"), Handoff: derive("handoff"), Device: derive("device"),
		SignInCounter: derive("signin-counter"), DatabaseScope: derive("database-scope"),
		SSOClientSecret: derive("sso-client-secret"), SSOState: derive("sso-state"), SSOStateBlock: derive("sso-state-block"),
		APIKeyHash: derive("api-key-hash"), WebhookSecret: derive("webhook-secret"),
		TOTPSecret: derive("totp-secret"), RecoveryCode: derive("recovery-code")}, nil
}

func (c *Config) masterSecret() ([]byte, error) {
	if c.SessionKey != "" {
		return decodeSecret(c.SessionKey, "CANOPY_SESSION_KEY")
	}
	path := filepath.Join(c.DataDir, secretFile)
	if raw, err := os.ReadFile(path); err == nil { //nolint:gosec // G304: the path is the operator's CANOPY_DATA_DIR
		return decodeSecret(strings.TrimSpace(string(raw)), path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	encoded := base64.StdEncoding.EncodeToString(secret)
	// O_EXCL: if two processes start at once, one writes and the other reads.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the path is the operator's CANOPY_DATA_DIR
	if errors.Is(err, os.ErrExist) {
		return c.masterSecret()
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(encoded + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil { // a failed close may have lost the key
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}

func decodeSecret(s, source string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < 32 {
		return nil, fmt.Errorf("%s: must be at least 32 random bytes, base64-encoded (openssl rand -base64 32)", source)
	}
	return b, nil
}
