package models

import (
	"fmt"

	"github.com/alexedwards/argon2id"
)

// passwordParams meet OWASP's argon2id minimum (19 MiB, two passes, one lane).
var passwordParams = &argon2id.Params{
	Memory:      19 * 1024,
	Iterations:  2,
	Parallelism: 1,
	SaltLength:  16,
	KeyLength:   32,
}

// MinPasswordLength is the shortest password Canopy accepts.
const MinPasswordLength = 10

// HashPassword returns an argon2id hash in the standard encoded form.
func HashPassword(password string) (string, error) {
	hash, err := argon2id.CreateHash(password, passwordParams)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// dummyHash is checked against when an email is unknown, so that answering
// "wrong email or password" takes as long either way.
var dummyHash = func() string {
	h, err := HashPassword("canopy-dummy-password-for-timing")
	if err != nil {
		panic(err)
	}
	return h
}()

// checkPassword compares password with an encoded hash. It also says whether
// the hash was made with weaker parameters than today's and should be redone.
func checkPassword(password, hash string) (ok, weak bool) {
	if hash == "" {
		hash = dummyHash
	}
	match, params, err := argon2id.CheckHash(password, hash)
	if err != nil || !match {
		return false, false
	}
	weak = params.Memory < passwordParams.Memory || params.Iterations < passwordParams.Iterations
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
