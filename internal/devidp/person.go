package devidp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// Person is who the next sign-in asserts. Zero overrides mean a
// well-behaved provider.
type Person struct {
	// Subject defaults to one derived from Email, so the same email keeps
	// the same subject across sign-ins and restarts.
	Subject       string
	Email         string // empty: no email claim at all
	Name          string // "name" claim; also given_name/family_name split on first space
	EmailVerified bool

	// Misbehaviour, for tests of the relying party:
	Nonce     *string       // if set, the ID token carries this nonce instead of the one asked for
	Audience  string        // if set, the ID token's aud is this instead of the client id
	Issuer    string        // if set, the ID token's iss is this
	ExpiresIn time.Duration // if non-zero, the ID token's exp is now+ExpiresIn (negative = already expired)
}

// SubjectFor is the subject a Person with this email and no Subject of
// its own gets. Case and surrounding spaces do not count, as they do not
// for email addresses in practice.
func SubjectFor(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "dev-" + hex.EncodeToString(sum[:12])
}

// user is a Person as mockoidc's User, which makes its ID token claims and
// userinfo.
type user struct {
	p Person
}

var _ mockoidc.User = (*user)(nil)

func newUser(p Person) *user {
	if p.Subject == "" {
		p.Subject = SubjectFor(p.Email)
	}
	return &user{p: p}
}

func (u *user) ID() string { return u.p.Subject }

// profile is the claims about the person, those the scopes allow.
type profile struct {
	Email         string `json:"email,omitempty"`
	EmailVerified *bool  `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
}

func (u *user) profile(scopes []string) profile {
	var pr profile
	for _, scope := range scopes {
		switch scope {
		case "email":
			if u.p.Email != "" {
				verified := u.p.EmailVerified
				pr.Email, pr.EmailVerified = u.p.Email, &verified
			}
		case "profile":
			pr.Name = strings.TrimSpace(u.p.Name)
			pr.GivenName, pr.FamilyName, _ = strings.Cut(pr.Name, " ")
			pr.FamilyName = strings.TrimSpace(pr.FamilyName)
		}
	}
	return pr
}

func (u *user) Userinfo(scopes []string) ([]byte, error) {
	info := struct {
		Subject string `json:"sub"`
		profile
	}{u.p.Subject, u.profile(scopes)}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, fmt.Errorf("devidp: userinfo: %w", err)
	}
	return b, nil
}

// idClaims is an ID token's claims: mockoidc's registered claims and nonce,
// with the person's.
type idClaims struct {
	*mockoidc.IDTokenClaims
	profile
}

// Claims makes the ID token's claims from mockoidc's base (issuer, client
// id as audience, times, the request's nonce), with the misbehaviour asked
// for.
func (u *user) Claims(scopes []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.p.Nonce != nil {
		base.Nonce = *u.p.Nonce
	}
	if u.p.Audience != "" {
		base.Audience = jwt.ClaimStrings{u.p.Audience}
	}
	if u.p.Issuer != "" {
		base.Issuer = u.p.Issuer
	}
	if u.p.ExpiresIn != 0 && base.IssuedAt != nil {
		exp := base.IssuedAt.Add(u.p.ExpiresIn)
		base.ExpiresAt = jwt.NewNumericDate(exp)
		if u.p.ExpiresIn < 0 {
			// An expired token was issued before it expired: one replayed
			// late looks like this.
			issued := jwt.NewNumericDate(exp.Add(-5 * time.Minute))
			base.IssuedAt, base.NotBefore = issued, issued
		}
	}
	return &idClaims{IDTokenClaims: base, profile: u.profile(scopes)}, nil
}
