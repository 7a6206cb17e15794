// Package devicecookie makes and reads device cookies, after OWASP's "Slow
// Down Online Guessing Attacks with Device Cookies": a browser in which an
// account signed in successfully carries a signed mark of that account, so
// that its later sign-ins to the account are counted on a counter of their
// own. Wrong passwords sent from anywhere else cannot lock it out.
//
// One cookie holds the marks of up to MaxEntries accounts, newest first,
// each signed on its own: "entry.entry.…". An entry names the account by a
// keyed hash of its email (the cookie does not show whose it is), a random
// nonce that names this browser's counter, and when it was issued.
package devicecookie

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"
)

const (
	// MaxEntries is how many accounts one browser is remembered for; signing
	// in to one more forgets the one signed in to longest ago.
	MaxEntries = 5
	// Lifetime is how long an entry is honoured after it was issued (the
	// cookie's own Max-Age says the same to the browser).
	Lifetime = 365 * 24 * time.Hour
	// clockSkew tolerates servers whose clocks differ a little.
	clockSkew = 5 * time.Minute
)

const (
	version    = 1
	accountLen = 16
	nonceLen   = 16
	payloadLen = 1 + accountLen + nonceLen + 8
	macLen     = sha256.Size
	entryLen   = payloadLen + macLen
	// encodedLen is an entry's length in the cookie.
	encodedLen = (entryLen*8 + 5) / 6
	// maxValueLen bounds what is worth reading of one cookie value.
	maxValueLen = MaxEntries * (encodedLen + 1)
)

// Errors a reader of one entry can get.
var (
	ErrMalformed = errors.New("device cookie entry is malformed")
	ErrSignature = errors.New("device cookie entry signature does not match")
	ErrExpired   = errors.New("device cookie entry has expired")
)

// Device is one account's mark in one browser.
type Device struct {
	IssuedAt time.Time
	account  [accountLen]byte
	nonce    [nonceLen]byte
}

// ID names this browser's counter for the account: the random nonce, which
// only a browser holding the signed entry can present.
func (d Device) ID() string { return hex.EncodeToString(d.nonce[:]) }

// Signer issues and checks entries with one key.
type Signer struct{ key []byte }

// NewSigner uses key (derived from the server's secret) to sign entries.
func NewSigner(key []byte) Signer { return Signer{key: key} }

// Issue marks a browser as one the account (by its normalized email)
// signed in with, with a fresh nonce.
func (s Signer) Issue(email string, now time.Time) Device {
	d := Device{IssuedAt: now.UTC().Truncate(time.Second), account: s.accountTag(email)}
	if _, err := rand.Read(d.nonce[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return d
}

// Belongs tells whether d marks the account with this normalized email.
func (s Signer) Belongs(d Device, email string) bool {
	tag := s.accountTag(email)
	return hmac.Equal(d.account[:], tag[:])
}

// Find returns the browser's entry for the account, if it has one.
func (s Signer) Find(devices []Device, email string) (Device, bool) {
	for _, d := range devices {
		if s.Belongs(d, email) {
			return d, true
		}
	}
	return Device{}, false
}

// Remember puts d first and drops the account's older entry and whatever
// exceeds MaxEntries.
func Remember(devices []Device, d Device) []Device {
	out := make([]Device, 0, MaxEntries)
	out = append(out, d)
	for _, other := range devices {
		if len(out) == MaxEntries {
			break
		}
		if other.account != d.account {
			out = append(out, other)
		}
	}
	return out
}

// Encode writes entries as one cookie value.
func (s Signer) Encode(devices []Device) string {
	parts := make([]string, 0, len(devices))
	for _, d := range devices {
		parts = append(parts, s.encodeEntry(d))
	}
	return strings.Join(parts, ".")
}

// Read returns the valid entries of every cookie value the browser sent
// under the device cookie's name (a browser may send several), newest
// first, one per account; anything malformed, forged or expired is left
// out, never an error: a bad cookie only means an unknown browser.
func (s Signer) Read(values []string, now time.Time) []Device {
	var devices []Device
	for _, v := range values {
		if len(v) > maxValueLen {
			continue
		}
		for _, raw := range strings.Split(v, ".") {
			if d, err := s.Parse(raw, now); err == nil {
				devices = append(devices, d)
			}
		}
	}
	return newestPerAccount(devices)
}

// Parse checks one entry's signature and age and returns it.
func (s Signer) Parse(raw string, now time.Time) (Device, error) {
	if len(raw) != encodedLen {
		return Device{}, ErrMalformed
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(raw)
	if err != nil || len(b) != entryLen || b[0] != version {
		return Device{}, ErrMalformed
	}
	payload, mac := b[:payloadLen], b[payloadLen:]
	if !hmac.Equal(mac, s.sign(payload)) {
		return Device{}, ErrSignature
	}
	var d Device
	copy(d.account[:], payload[1:])
	copy(d.nonce[:], payload[1+accountLen:])
	issued := int64(binary.BigEndian.Uint64(payload[1+accountLen+nonceLen:])) //nolint:gosec // G115: a bit-for-bit round trip of encodeEntry
	d.IssuedAt = time.Unix(issued, 0).UTC()
	if d.IssuedAt.After(now.Add(clockSkew)) || !now.Before(d.IssuedAt.Add(Lifetime)) {
		return Device{}, ErrExpired
	}
	return d, nil
}

func (s Signer) encodeEntry(d Device) string {
	payload := make([]byte, 0, entryLen)
	payload = append(payload, version)
	payload = append(payload, d.account[:]...)
	payload = append(payload, d.nonce[:]...)
	payload = binary.BigEndian.AppendUint64(payload, uint64(d.IssuedAt.Unix())) //nolint:gosec // G115: a bit-for-bit round trip, undone by Parse
	return base64.RawURLEncoding.EncodeToString(append(payload, s.sign(payload)...))
}

func (s Signer) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("canopy-device-v1\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// accountTag names an account without showing its email: only the server's
// key can tell which account an entry belongs to.
func (s Signer) accountTag(email string) [accountLen]byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("canopy-device-account\x00"))
	m.Write([]byte(email))
	var tag [accountLen]byte
	copy(tag[:], m.Sum(nil))
	return tag
}

// newestPerAccount keeps each account's most recently issued entry, newest
// first, at most MaxEntries.
func newestPerAccount(devices []Device) []Device {
	var out []Device
	for _, d := range devices {
		replaced := false
		for i, kept := range out {
			if kept.account == d.account {
				if d.IssuedAt.After(kept.IssuedAt) {
					out[i] = d
				}
				replaced = true
				break
			}
		}
		if !replaced {
			out = append(out, d)
		}
	}
	slices.SortStableFunc(out, func(a, b Device) int { return b.IssuedAt.Compare(a.IssuedAt) })
	if len(out) > MaxEntries {
		out = out[:MaxEntries]
	}
	return out
}
