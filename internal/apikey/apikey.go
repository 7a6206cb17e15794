// Package apikey makes, recognises and hashes Canopy's API keys.
//
// A key reads cnp_test_ (sandbox) or cnp_live_ (production), then 32
// base62 characters drawn from crypto/rand (about 190 bits), then a
// six-character base62 CRC-32 of everything before it. The checksum lets a
// secret scanner tell a real key from a look-alike offline, and lets Canopy
// refuse a mistyped key without a database lookup. Canopy keeps only an
// HMAC-SHA256 of the whole key (Hasher), its prefix and its last four
// characters.
package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// The prefixes, one per environment.
const (
	SandboxPrefix    = "cnp_test_"
	ProductionPrefix = "cnp_live_"
)

const (
	bodyLength     = 32
	checksumLength = 6
	alphabet       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// Length is the length of every key.
	Length = len(SandboxPrefix) + bodyLength + checksumLength
)

// ErrMalformed is anything that is not a well-formed key: wrong prefix,
// length, characters or checksum.
var ErrMalformed = errors.New("not a Canopy API key")

// Key is a well-formed key.
type Key struct {
	Secret     string // the whole key, as the client sends it
	Production bool
}

// Prefix is the key's environment prefix, cnp_test_ or cnp_live_.
func (k Key) Prefix() string { return k.Secret[:len(SandboxPrefix)] }

// Last4 is the key's last four characters, all a page shows beside the prefix.
func (k Key) Last4() string { return k.Secret[len(k.Secret)-4:] }

// New makes a random key for the environment.
func New(production bool) (Key, error) {
	prefix := SandboxPrefix
	if production {
		prefix = ProductionPrefix
	}
	body := make([]byte, bodyLength)
	limit := big.NewInt(int64(len(alphabet)))
	for i := range body {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return Key{}, err
		}
		body[i] = alphabet[n.Int64()]
	}
	head := prefix + string(body)
	return Key{Secret: head + checksum(head), Production: production}, nil
}

// Parse accepts only a well-formed key with a checksum that matches.
func Parse(s string) (Key, error) {
	if len(s) != Length {
		return Key{}, ErrMalformed
	}
	var production bool
	switch {
	case strings.HasPrefix(s, SandboxPrefix):
	case strings.HasPrefix(s, ProductionPrefix):
		production = true
	default:
		return Key{}, ErrMalformed
	}
	rest := s[len(SandboxPrefix):]
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return Key{}, ErrMalformed
		}
	}
	head := s[:len(s)-checksumLength]
	if !hmac.Equal([]byte(checksum(head)), []byte(s[len(head):])) {
		return Key{}, ErrMalformed
	}
	return Key{Secret: s, Production: production}, nil
}

// checksum is the CRC-32 of head in six base62 characters, zero-padded.
func checksum(head string) string {
	n := uint64(crc32.ChecksumIEEE([]byte(head)))
	out := make([]byte, checksumLength)
	for i := checksumLength - 1; i >= 0; i-- {
		out[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(out)
}

// Hasher computes the keyed hash Canopy stores in place of a key.
type Hasher struct{ key []byte }

// NewHasher hashes with key, which comes from the server's secret.
func NewHasher(key []byte) Hasher { return Hasher{key: key} }

// Hash is the hex HMAC-SHA256 of the whole key.
func (h Hasher) Hash(k Key) string {
	mac := hmac.New(sha256.New, h.key)
	mac.Write([]byte(k.Secret))
	return hex.EncodeToString(mac.Sum(nil))
}
