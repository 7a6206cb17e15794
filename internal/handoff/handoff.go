// Package handoff makes and reads the short-lived, single-use, signed tokens
// that carry a signed-in user from one Canopy host to another. Session cookies
// are host-only, so moving to another company's subdomain needs this bridge;
// the password is never asked again.
package handoff

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// TTL is how long a token stays valid: long enough for one redirect.
const TTL = 60 * time.Second

// Token is what a hand-off carries: who moves, into which tenant, in which
// session — the record of the signed-in browser, which the target host's
// cookie goes on to name, so a token minted before that session ended is
// worthless and ending it later signs the browser out there too — and a
// hash of the state the target host gave the browser that asked for it (so a
// token is useless in anyone else's browser: nobody can send you a link that
// signs you in as them).
type Token struct {
	ID        string // random; redeeming records it, so each token works once
	UserID    int64
	TenantID  int64
	SessionID int64
	ExpiresAt time.Time
	stateHash [stateHashLen]byte
}

const (
	idLen        = 16
	stateHashLen = 16
	payloadLen   = idLen + 8*4 + stateHashLen
	macLen       = sha256.Size
)

// NewState is the random value a target host keeps in a short-lived cookie
// and sends along to be bound into the token.
func NewState() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return encode(b)
}

func hashState(state string) [stateHashLen]byte {
	sum := sha256.Sum256([]byte("canopy-handoff-state\x00" + state))
	var h [stateHashLen]byte
	copy(h[:], sum[:stateHashLen])
	return h
}

// MatchesState tells whether the token was minted for this browser's state.
func (t Token) MatchesState(state string) bool {
	if state == "" {
		return false
	}
	want := hashState(state)
	return hmac.Equal(t.stateHash[:], want[:])
}

// Errors a reader of a token can get.
var (
	ErrMalformed = errors.New("hand-off token is malformed")
	ErrSignature = errors.New("hand-off token signature does not match")
	ErrExpired   = errors.New("hand-off token has expired")
)

// New mints a token for a user, in the session sessionID, entering a
// tenant, valid for TTL from now, bound to the state the target host handed
// the user's browser.
func New(key []byte, userID, tenantID, sessionID int64, state string, now time.Time) (Token, string) {
	id := make([]byte, idLen)
	if _, err := rand.Read(id); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	t := Token{ID: hex.EncodeToString(id), UserID: userID, TenantID: tenantID, SessionID: sessionID,
		ExpiresAt: now.Add(TTL).Truncate(time.Second), stateHash: hashState(state)}
	payload := make([]byte, 0, payloadLen)
	payload = append(payload, id...)
	for _, field := range []int64{userID, tenantID, sessionID, t.ExpiresAt.Unix()} {
		payload = appendInt64(payload, field)
	}
	payload = append(payload, t.stateHash[:]...)
	return t, encode(payload) + "." + encode(sign(key, payload))
}

// Parse checks a token's signature and expiry and returns what it carries.
// It does not know whether the token was already redeemed: the caller must
// record its ID.
func Parse(key []byte, raw string, now time.Time) (Token, error) {
	payloadPart, macPart, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > 240 {
		return Token{}, ErrMalformed
	}
	payload, err1 := decode(payloadPart)
	mac, err2 := decode(macPart)
	if err1 != nil || err2 != nil || len(payload) != payloadLen || len(mac) != macLen {
		return Token{}, ErrMalformed
	}
	if !hmac.Equal(mac, sign(key, payload)) {
		return Token{}, ErrSignature
	}
	field := func(i int) int64 { return readInt64(payload[idLen+8*i:]) }
	t := Token{
		ID:        hex.EncodeToString(payload[:idLen]),
		UserID:    field(0),
		TenantID:  field(1),
		SessionID: field(2),
		ExpiresAt: time.Unix(field(3), 0),
	}
	copy(t.stateHash[:], payload[idLen+8*4:])
	if !now.Before(t.ExpiresAt) {
		return Token{}, ErrExpired
	}
	return t, nil
}

func sign(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	// v2: the third number is a session record's id (v1's was a session
	// version), so a token of either kind never passes for the other.
	m.Write([]byte("canopy-handoff-v2\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

func encode(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func decode(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

// appendInt64 and readInt64 carry an int64 as its eight bytes, big-endian.
// The conversions reinterpret the bits, so every value, negative ones
// included, comes back as it went.
func appendInt64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v)) //nolint:gosec // G115: a bit-for-bit round trip, undone by readInt64
}

func readInt64(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b)) //nolint:gosec // G115: a bit-for-bit round trip of appendInt64
}
