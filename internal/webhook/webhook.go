// Package webhook signs and verifies webhook requests to the Standard
// Webhooks specification, version 1 (https://www.standardwebhooks.com):
// each request carries webhook-id, webhook-timestamp (Unix seconds) and
// webhook-signature, "v1," followed by the base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}" keyed by the secret's bytes. A secret is
// "whsec_" and the base64 of those bytes.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers every webhook request carries.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every endpoint secret, so that one pasted in the
// wrong place is recognisable.
const SecretPrefix = "whsec_"

// secretBytes is the random part of a new secret: 32 bytes, above the
// specification's minimum of 24.
const secretBytes = 32

// Tolerance is how far a request's timestamp may be from the receiver's
// clock, either way, before Verify refuses it as a replay.
const Tolerance = 5 * time.Minute

// Errors of ParseSecret and Verify.
var (
	ErrBadSecret      = errors.New("not a webhook secret (whsec_ and base64 of at least 24 bytes)")
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	ErrBadTimestamp   = errors.New("webhook-timestamp is not Unix seconds within the tolerance")
	ErrNoSignature    = errors.New("no signature matches")
)

// NewSecret makes a fresh endpoint secret.
func NewSecret() string {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// ParseSecret returns the key bytes of a secret. The prefix is optional,
// as in the reference libraries, so a receiver may be given either form.
func ParseSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix))
	if err != nil || len(key) < 24 {
		return nil, ErrBadSecret
	}
	return key, nil
}

// Sign is one secret's signature of a message: "v1," and the base64 HMAC.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := ParseSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, timestamp.Unix(), body)), nil
}

func mac(key []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Headers are the three headers of a message signed by each of secrets
// (while a secret is being rotated, the new one and the old one), the
// signatures space-separated as the specification has it.
func Headers(secrets []string, id string, timestamp time.Time, body []byte) (http.Header, error) {
	if len(secrets) == 0 {
		return nil, ErrBadSecret
	}
	signatures := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		sig, err := Sign(secret, id, timestamp, body)
		if err != nil {
			return nil, err
		}
		signatures = append(signatures, sig)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, strings.Join(signatures, " "))
	return h, nil
}

// Verify checks a received request as a receiver should: the headers are
// present, the timestamp is within Tolerance of now, and one of the v1
// signatures is secret's. It is what `canopy webhook-receiver` runs.
func Verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := ParseSecret(secret)
	if err != nil {
		return err
	}
	id, ts, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(unix, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("%w: %s off", ErrBadTimestamp, d.Round(time.Second))
	}
	want := mac(key, id, unix, body)
	for _, versioned := range strings.Fields(sigs) {
		version, sig, ok := strings.Cut(versioned, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrNoSignature
}
