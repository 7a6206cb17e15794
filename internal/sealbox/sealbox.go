// Package sealbox seals short secrets Canopy must keep but never show again,
// such as a single sign-on connection's client secret: AES-256-GCM with a
// key derived from the server's secret, bound to what the secret belongs
// to, so a sealed value copied onto another row does not open there.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// Box seals and opens with one key.
type Box struct{ aead cipher.AEAD }

// version prefixes every sealed value, so a later key or cipher can be
// told apart from this one.
const version = "v1."

// ErrOpen is any sealed value that does not open: tampered, of another
// row, or sealed with another key.
var ErrOpen = errors.New("sealed value does not open")

// New makes a box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealbox: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealbox: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plain for the owner named by boundTo.
func (b *Box) Seal(plain, boundTo string) string {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	sealed := b.aead.Seal(nonce, nonce, []byte(plain), []byte(boundTo))
	return version + base64.RawStdEncoding.EncodeToString(sealed)
}

// Open decrypts what Seal made for the same owner.
func (b *Box) Open(sealed, boundTo string) (string, error) {
	if len(sealed) <= len(version) || sealed[:len(version)] != version {
		return "", ErrOpen
	}
	raw, err := base64.RawStdEncoding.DecodeString(sealed[len(version):])
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(boundTo))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
