package models

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alexedwards/argon2id"
)

// productionPasswordParams meet OWASP's argon2id minimum (19 MiB, two
// passes, one lane).
var productionPasswordParams = argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// testPasswordParams are a few hundred times cheaper. Test binaries hash with
// them because a hash at production cost takes about 50 ms (150 ms under the
// race detector), and nearly every test creates users and signs in; one test
// hashes at production cost to prove what the server uses.
var testPasswordParams = argon2id.Params{
	Memory:      64,
	Iterations:  1,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// passwordParamsFor is the cost of new hashes: production's, except in a
// test binary.
func passwordParamsFor(inTest bool) *argon2id.Params {
	if inTest {
		p := testPasswordParams
		return &p
	}
	p := productionPasswordParams
	return &p
}

var passwordParams atomic.Pointer[argon2id.Params]

func init() { passwordParams.Store(passwordParamsFor(testing.Testing())) }

// MinPasswordLength is the shortest password Canopy accepts.
const MinPasswordLength = 10

// HashPassword returns an argon2id hash in the standard encoded form.
func HashPassword(password string) (string, error) {
	hash, err := argon2id.CreateHash(password, passwordParams.Load())
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// dummyHashes are checked against when an email is unknown, so that
// answering "wrong email or password" takes as long either way: one per
// cost, made when first needed.
var dummyHashes sync.Map // argon2id.Params → encoded hash

func dummyHash() string {
	params := *passwordParams.Load()
	if h, ok := dummyHashes.Load(params); ok {
		return h.(string)
	}
	h, err := HashPassword("canopy-dummy-password-for-timing")
	if err != nil {
		panic(err)
	}
	dummyHashes.Store(params, h)
	return h
}

// checkPassword compares password with an encoded hash. It also says whether
// the hash was made with weaker parameters than today's and should be redone.
func checkPassword(password, hash string) (ok, weak bool) {
	if hash == "" {
		hash = dummyHash()
	}
	match, params, err := argon2id.CheckHash(password, hash)
	if err != nil || !match {
		return false, false
	}
	want := passwordParams.Load()
	weak = params.Memory < want.Memory || params.Iterations < want.Iterations
	return true, weak
}

// ValidatePassword returns a message fit to show beside the field, or "".
func ValidatePassword(password string) string {
	switch {
	case len(password) < MinPasswordLength:
		return fmt.Sprintf("Use at least %d characters.", MinPasswordLength)
	case len(password) > 256:
		return "Use at most 256 characters."
	}
	return ""
}
