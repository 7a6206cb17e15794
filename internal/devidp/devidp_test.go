package devidp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// callbackURL is where the relying party of these tests is sent back to;
// nothing listens there, since its client never follows redirects.
const callbackURL = "http://acme.localhost:8080/sso/callback?from=devidp"

func startIDP(t *testing.T) *Server {
	t.Helper()
	s, err := Start(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// relyingParty does what Canopy's side does: discovery, Authorization Code
// with PKCE S256, state and nonce, the exchange with client_secret, and
// go-oidc's verification of the ID token.
type relyingParty struct {
	t        *testing.T
	idp      *Server
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
	browser  *http.Client // never follows redirects, so each one can be read
}

func newRelyingParty(t *testing.T, idp *Server, scopes ...string) *relyingParty {
	t.Helper()
	if scopes == nil {
		scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	provider, err := oidc.NewProvider(context.Background(), idp.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &relyingParty{
		t:        t,
		idp:      idp,
		provider: provider,
		conf: oauth2.Config{
			ClientID:     idp.ClientID(),
			ClientSecret: idp.ClientSecret(),
			Endpoint:     provider.Endpoint(),
			RedirectURL:  callbackURL,
			Scopes:       scopes,
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: idp.ClientID()}),
		browser: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       10 * time.Second,
		},
	}
}

// attempt is one sign-in's secrets, as the relying party keeps them.
type attempt struct {
	state, nonce, verifier string
	url                    string
}

func random(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (rp *relyingParty) begin(opts ...oauth2.AuthCodeOption) attempt {
	a := attempt{state: random(rp.t), nonce: random(rp.t), verifier: oauth2.GenerateVerifier()}
	opts = append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, opts...)
	a.url = rp.conf.AuthCodeURL(a.state, opts...)
	return a
}

// send makes a request the way the browser would, without following the
// redirect it may answer with.
func (rp *relyingParty) send(req *http.Request) (*http.Response, string) {
	rp.t.Helper()
	res, err := rp.browser.Do(req)
	if err != nil {
		rp.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		rp.t.Fatal(err)
	}
	return res, string(body)
}

func (rp *relyingParty) get(rawURL string) (*http.Response, string) {
	rp.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		rp.t.Fatal(err)
	}
	return rp.send(req)
}

// returned checks that res sends the browser back to the callback, with the
// callback's own query kept and the attempt's state, and gives that query.
func (rp *relyingParty) returned(res *http.Response, body string, a attempt) url.Values {
	rp.t.Helper()
	if res.StatusCode != http.StatusFound {
		rp.t.Fatalf("status %d, want a redirect to the callback:\n%s", res.StatusCode, body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		rp.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; !strings.HasPrefix(callbackURL, got+"?") {
		rp.t.Fatalf("redirected to %s, not the callback", loc)
	}
	q := loc.Query()
	if q.Get("from") != "devidp" {
		rp.t.Errorf("the callback's own query was lost: %s", loc)
	}
	if q.Get("state") != a.state {
		rp.t.Errorf("state = %q, want %q", q.Get("state"), a.state)
	}
	return q
}

// code follows the attempt to the callback and returns its code.
func (rp *relyingParty) code(a attempt) string {
	rp.t.Helper()
	res, body := rp.get(a.url)
	q := rp.returned(res, body, a)
	if q.Get("code") == "" {
		rp.t.Fatalf("no code in the callback: %s", q.Encode())
	}
	return q.Get("code")
}

func (rp *relyingParty) exchange(code string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rp.conf.Exchange(ctx, code, opts...)
}

// verify checks the token response's ID token as a relying party must:
// go-oidc's verifier (signature, issuer, audience, expiry), then the nonce.
func (rp *relyingParty) verify(tok *oauth2.Token, a attempt) (*oidc.IDToken, error) {
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		return nil, errors.New("no id_token in the token response")
	}
	id, err := rp.verifier.Verify(context.Background(), raw)
	if err != nil {
		return nil, err
	}
	if id.Nonce != a.nonce {
		return id, fmt.Errorf("nonce %q, want %q", id.Nonce, a.nonce)
	}
	return id, nil
}

// signIn runs the whole flow for a and returns the verified ID token.
func (rp *relyingParty) signIn(a attempt) (*oidc.IDToken, *oauth2.Token) {
	rp.t.Helper()
	tok, err := rp.exchange(rp.code(a), oauth2.VerifierOption(a.verifier))
	if err != nil {
		rp.t.Fatalf("exchange: %v", err)
	}
	id, err := rp.verify(tok, a)
	if err != nil {
		rp.t.Fatalf("verify: %v", err)
	}
	return id, tok
}

type claims struct {
	Subject       string `json:"sub"`
	Email         string `json:"email"`
	EmailVerified *bool  `json:"email_verified"`
	Name          string `json:"name"`
	GivenName     string `json:"given_name"`
	FamilyName    string `json:"family_name"`
}

func claimsOf(t *testing.T, id *oidc.IDToken) claims {
	t.Helper()
	var c claims
	if err := id.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

func checkClaims(t *testing.T, got, want claims) {
	t.Helper()
	if got.Subject != want.Subject || got.Email != want.Email || got.Name != want.Name ||
		got.GivenName != want.GivenName || got.FamilyName != want.FamilyName ||
		(got.EmailVerified == nil) != (want.EmailVerified == nil) ||
		(got.EmailVerified != nil && *got.EmailVerified != *want.EmailVerified) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("claims\n got %s\nwant %s", g, w)
	}
}

func TestSignInNextRunsTheCodeFlow(t *testing.T) {
	idp := startIDP(t)
	tests := []struct {
		name   string
		scopes []string
		person Person
		want   claims
	}{
		{
			name:   "verified email, two-word name",
			person: Person{Email: "alice@acme.test", Name: "Alice Anderson", EmailVerified: true},
			want: claims{Subject: SubjectFor("alice@acme.test"), Email: "alice@acme.test", EmailVerified: ptr(true),
				Name: "Alice Anderson", GivenName: "Alice", FamilyName: "Anderson"},
		},
		{
			name:   "unverified email says so, one-word name is the given name",
			person: Person{Email: "bob@globex.test", Name: "Bob"},
			want: claims{Subject: SubjectFor("bob@globex.test"), Email: "bob@globex.test", EmailVerified: ptr(false),
				Name: "Bob", GivenName: "Bob"},
		},
		{
			name:   "a name splits on its first space",
			person: Person{Email: "mary@acme.test", Name: "Mary Jane Watson", EmailVerified: true},
			want: claims{Subject: SubjectFor("mary@acme.test"), Email: "mary@acme.test", EmailVerified: ptr(true),
				Name: "Mary Jane Watson", GivenName: "Mary", FamilyName: "Jane Watson"},
		},
		{
			name:   "a subject of its own",
			person: Person{Subject: "00u1okta", Email: "dave@acme.test", EmailVerified: true},
			want:   claims{Subject: "00u1okta", Email: "dave@acme.test", EmailVerified: ptr(true)},
		},
		{
			name:   "without the profile scope, no name",
			scopes: []string{"openid", "email"},
			person: Person{Email: "eve@acme.test", Name: "Eve Evans", EmailVerified: true},
			want:   claims{Subject: SubjectFor("eve@acme.test"), Email: "eve@acme.test", EmailVerified: ptr(true)},
		},
		{
			name:   "without the email scope, no email",
			scopes: []string{"openid", "profile"},
			person: Person{Email: "eve@acme.test", Name: "Eve Evans", EmailVerified: true},
			want:   claims{Subject: SubjectFor("eve@acme.test"), Name: "Eve Evans", GivenName: "Eve", FamilyName: "Evans"},
		},
		{
			name:   "no email at all",
			person: Person{Subject: "no-mail", Name: "Nomail"},
			want:   claims{Subject: "no-mail", Name: "Nomail", GivenName: "Nomail"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, idp, tc.scopes...)
			idp.SignInNext(tc.person)
			id, tok := rp.signIn(rp.begin())
			checkClaims(t, claimsOf(t, id), tc.want)
			if id.Issuer != idp.Issuer() || len(id.Audience) != 1 || id.Audience[0] != idp.ClientID() {
				t.Errorf("iss %q aud %v", id.Issuer, id.Audience)
			}
			if alg := jwsAlg(t, tok.Extra("id_token").(string)); alg != "RS256" {
				t.Errorf("alg %q", alg)
			}
			// expires_in in seconds, not mockoidc's nanoseconds.
			if left := time.Until(tok.Expiry); left < 9*time.Minute || left > 11*time.Minute {
				t.Errorf("access token expires in %v", left)
			}
			info, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var fromInfo claims
			if err := info.Claims(&fromInfo); err != nil {
				t.Fatal(err)
			}
			checkClaims(t, fromInfo, tc.want)
		})
	}
}

func jwsAlg(t *testing.T, raw string) string {
	t.Helper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatal(err)
	}
	return h.Alg
}

func TestSubjectIsStablePerEmail(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	subject := func(email string) string {
		idp.SignInNext(Person{Email: email})
		id, _ := rp.signIn(rp.begin())
		return id.Subject
	}
	first := subject("alice@acme.test")
	if again := subject("alice@acme.test"); again != first {
		t.Errorf("same email, subjects %q and %q", first, again)
	}
	if cased := subject(" Alice@ACME.test"); cased != first {
		t.Errorf("same email in other case, subjects %q and %q", first, cased)
	}
	if other := subject("bob@globex.test"); other == first {
		t.Errorf("two emails share subject %q", first)
	}
	if !strings.HasPrefix(first, "dev-") || len(first) != len("dev-")+24 {
		t.Errorf("subject %q", first)
	}
}

// TestMisbehaviourIsRefused: each way a Person can make the ID token lie is
// caught by go-oidc's verifier or the nonce comparison, and nothing else is.
func TestMisbehaviourIsRefused(t *testing.T) {
	idp := startIDP(t)
	var expired *oidc.TokenExpiredError
	tests := []struct {
		name    string
		person  Person
		refused func(err error) bool // nil: accepted
	}{
		{name: "well-behaved", person: Person{Email: "alice@acme.test"}},
		{name: "expiring later than usual is fine", person: Person{Email: "alice@acme.test", ExpiresIn: 2 * time.Minute}},
		{
			name:    "another nonce",
			person:  Person{Email: "alice@acme.test", Nonce: ptr("replayed-nonce")},
			refused: func(err error) bool { return strings.Contains(err.Error(), `nonce "replayed-nonce"`) },
		},
		{
			name:    "empty nonce",
			person:  Person{Email: "alice@acme.test", Nonce: ptr("")},
			refused: func(err error) bool { return strings.Contains(err.Error(), `nonce ""`) },
		},
		{
			name:    "another audience",
			person:  Person{Email: "alice@acme.test", Audience: "someone-else"},
			refused: func(err error) bool { return strings.Contains(err.Error(), "audience") },
		},
		{
			name:    "another issuer",
			person:  Person{Email: "alice@acme.test", Issuer: "https://evil.test/oidc"},
			refused: func(err error) bool { return strings.Contains(err.Error(), "different provider") },
		},
		{
			name:    "already expired",
			person:  Person{Email: "alice@acme.test", ExpiresIn: -time.Minute},
			refused: func(err error) bool { return errors.As(err, &expired) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, idp)
			idp.SignInNext(tc.person)
			a := rp.begin()
			tok, err := rp.exchange(rp.code(a), oauth2.VerifierOption(a.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			id, err := rp.verify(tok, a)
			switch {
			case tc.refused == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused == nil:
				want := time.Now().Add(10 * time.Minute)
				if tc.person.ExpiresIn != 0 {
					want = time.Now().Add(tc.person.ExpiresIn)
				}
				if d := id.Expiry.Sub(want); d < -5*time.Second || d > 5*time.Second {
					t.Errorf("exp %v, want about %v", id.Expiry, want)
				}
			case err == nil:
				t.Fatal("accepted")
			case !tc.refused(err):
				t.Fatalf("refused for another reason: %v", err)
			}
		})
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	idp.SignInNext(Person{Email: "alice@acme.test"})
	a := rp.begin()
	code := rp.code(a)
	if _, err := rp.exchange(code, oauth2.VerifierOption(a.verifier)); err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, err := rp.exchange(code, oauth2.VerifierOption(a.verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("second exchange: %v", err)
	}
}

func TestPKCE(t *testing.T) {
	idp := startIDP(t)
	tests := []struct {
		name      string
		authorize func(rp *relyingParty) attempt
		verifier  func(a attempt) []oauth2.AuthCodeOption
		wantError string // the token endpoint's error code, or "" for tokens
	}{
		{
			name:      "the right verifier",
			authorize: func(rp *relyingParty) attempt { return rp.begin() },
			verifier: func(a attempt) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(a.verifier)}
			},
		},
		{
			name:      "another verifier",
			authorize: func(rp *relyingParty) attempt { return rp.begin() },
			verifier: func(attempt) []oauth2.AuthCodeOption {
				return []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			},
			wantError: "invalid_grant",
		},
		{
			name:      "no verifier for a challenge",
			authorize: func(rp *relyingParty) attempt { return rp.begin() },
			verifier:  func(attempt) []oauth2.AuthCodeOption { return nil },
			wantError: "invalid_grant",
		},
		{
			name: "no challenge, no verifier",
			authorize: func(rp *relyingParty) attempt {
				a := attempt{state: random(t), nonce: random(t)}
				a.url = rp.conf.AuthCodeURL(a.state, oidc.Nonce(a.nonce))
				return a
			},
			verifier: func(attempt) []oauth2.AuthCodeOption { return nil },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, idp)
			idp.SignInNext(Person{Email: "alice@acme.test"})
			a := tc.authorize(rp)
			tok, err := rp.exchange(rp.code(a), tc.verifier(a)...)
			if tc.wantError == "" {
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if _, err := rp.verify(tok, a); err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tc.wantError {
				t.Fatalf("exchange: %v, want %s", err, tc.wantError)
			}
		})
	}
}

// TestAuthorizationRequestRefusals: a bad client_id or redirect_uri is a
// plain page that sends nothing back; other bad parameters go back as OAuth
// errors; neither uses up a queued sign-in.
func TestAuthorizationRequestRefusals(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	tests := []struct {
		name      string
		change    func(q url.Values)
		wantPage  string // a plain error page saying this
		wantError string // else an error sent back to the callback
	}{
		{name: "unknown client_id", change: func(q url.Values) { q.Set("client_id", "mallory") }, wantPage: "mallory"},
		{name: "no client_id", change: func(q url.Values) { q.Del("client_id") }, wantPage: "no client_id"},
		{name: "no redirect_uri", change: func(q url.Values) { q.Del("redirect_uri") }, wantPage: "no redirect_uri"},
		{name: "relative redirect_uri", change: func(q url.Values) { q.Set("redirect_uri", "/sso/callback") }, wantPage: "not an absolute"},
		{name: "javascript redirect_uri", change: func(q url.Values) { q.Set("redirect_uri", "javascript:alert(1)") }, wantPage: "not an absolute"},
		{name: "redirect_uri with a fragment", change: func(q url.Values) { q.Set("redirect_uri", callbackURL+"#x") }, wantPage: "fragment"},
		{name: "implicit flow", change: func(q url.Values) { q.Set("response_type", "token") }, wantError: "unsupported_response_type"},
		{name: "no openid scope", change: func(q url.Values) { q.Set("scope", "email profile") }, wantError: "invalid_scope"},
		{name: "unknown scope", change: func(q url.Values) { q.Set("scope", "openid offline_access") }, wantError: "invalid_scope"},
		{name: "scopes apart by two spaces", change: func(q url.Values) { q.Set("scope", "openid  email") }, wantError: "invalid_scope"},
		{name: "no state", change: func(q url.Values) { q.Del("state") }, wantError: "invalid_request"},
		{name: "plain PKCE", change: func(q url.Values) { q.Set("code_challenge_method", "plain") }, wantError: "invalid_request"},
		{name: "challenge without method", change: func(q url.Values) { q.Del("code_challenge_method") }, wantError: "invalid_request"},
		{name: "method without challenge", change: func(q url.Values) { q.Del("code_challenge") }, wantError: "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idp.SignInNext(Person{Email: "queued@acme.test"})
			a := rp.begin()
			u, _ := url.Parse(a.url)
			q := u.Query()
			tc.change(q)
			u.RawQuery = q.Encode()
			res, body := rp.get(u.String())
			if tc.wantPage != "" {
				if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" ||
					!strings.Contains(body, tc.wantPage) || !strings.Contains(body, "For development only") {
					t.Fatalf("status %d, Location %q:\n%s", res.StatusCode, res.Header.Get("Location"), body)
				}
			} else {
				if q.Get("state") == "" {
					a.state = ""
				}
				back := rp.returned(res, body, a)
				if back.Get("error") != tc.wantError || back.Get("error_description") == "" || back.Has("code") {
					t.Fatalf("sent back %s, want error=%s", back.Encode(), tc.wantError)
				}
			}
			// The queued person still waits for the next good request.
			id, _ := rp.signIn(rp.begin())
			if c := claimsOf(t, id); c.Email != "queued@acme.test" {
				t.Errorf("signed in as %q", c.Email)
			}
		})
	}
}

func TestDenyNext(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	idp.DenyNext()
	idp.SignInNext(Person{Email: "after@acme.test"})

	a := rp.begin()
	res, body := rp.get(a.url)
	q := rp.returned(res, body, a)
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Has("code") {
		t.Fatalf("sent back %s", q.Encode())
	}
	// Queued in order: the denial, then the sign-in, then the login page.
	id, _ := rp.signIn(rp.begin())
	if c := claimsOf(t, id); c.Email != "after@acme.test" {
		t.Errorf("signed in as %q", c.Email)
	}
	res, body = rp.get(rp.begin().url)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<form") {
		t.Fatalf("status %d, want the login page:\n%s", res.StatusCode, body)
	}
}

// loginForm is the login page's form as a browser sees it.
type loginForm struct {
	action  string
	method  string
	hidden  url.Values
	inputs  map[string]*html.Node // by name, those people fill in
	buttons map[string]string     // value by label
	labels  map[string]string     // label text by the id it is for
	title   string
	text    string
}

func parseLoginPage(t *testing.T, body string) loginForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	f := loginForm{hidden: url.Values{}, inputs: map[string]*html.Node{}, buttons: map[string]string{}, labels: map[string]string{}}
	var text strings.Builder
	for n := range doc.Descendants() {
		switch {
		case n.Type == html.TextNode:
			text.WriteString(n.Data)
		case n.Type != html.ElementNode:
		case n.Data == "title":
			f.title = textOf(n)
		case n.Data == "form":
			f.action, f.method = attr(n, "action"), attr(n, "method")
		case n.Data == "input" && attr(n, "type") == "hidden":
			f.hidden.Add(attr(n, "name"), attr(n, "value"))
		case n.Data == "input":
			f.inputs[attr(n, "name")] = n
		case n.Data == "button":
			f.buttons[textOf(n)] = attr(n, "name") + "=" + attr(n, "value")
		case n.Data == "label":
			f.labels[attr(n, "for")] = textOf(n)
		case n.Data == "link" || n.Data == "script" || n.Data == "img":
			t.Errorf("the page loads a resource: <%s>", n.Data)
		}
	}
	f.text = strings.Join(strings.Fields(text.String()), " ")
	return f
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

func TestLoginPage(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	tests := []struct {
		name      string
		opts      []oauth2.AuthCodeOption
		wantEmail string
		wantName  string
	}{
		{name: "no hint", wantEmail: "alice@acme.test", wantName: "Alice Anderson"},
		{name: "the relying party's login_hint", opts: []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", "dave@acme.test")},
			wantEmail: "dave@acme.test"},
		{name: "a login_hint that is not an email", opts: []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", "dave")},
			wantEmail: "alice@acme.test", wantName: "Alice Anderson"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := rp.begin(tc.opts...)
			res, body := rp.get(a.url)
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("status %d, %s", res.StatusCode, res.Header.Get("Content-Type"))
			}
			f := parseLoginPage(t, body)
			if f.title != "Canopy development identity provider" {
				t.Errorf("title %q", f.title)
			}
			if !strings.Contains(f.text, "For development only") {
				t.Errorf("the page does not say it is for development only: %s", f.text)
			}
			if f.method != "post" || f.action != "/oidc/authorize" {
				t.Errorf("form %s %s", f.method, f.action)
			}
			u, _ := url.Parse(a.url)
			if f.hidden.Encode() != u.Query().Encode() {
				t.Errorf("hidden fields\n %s\nwant the request's\n %s", f.hidden.Encode(), u.Query().Encode())
			}
			if got := attr(f.inputs[fieldEmail], "value"); got != tc.wantEmail {
				t.Errorf("email prefilled %q", got)
			}
			if got := attr(f.inputs[fieldName], "value"); got != tc.wantName {
				t.Errorf("name prefilled %q", got)
			}
			if !hasAttr(f.inputs[fieldVerified], "checked") {
				t.Error("Email verified is not checked")
			}
			wantLabels := map[string]string{fieldEmail: "Email", fieldName: "Full name", fieldVerified: "Email verified"}
			if len(f.inputs) != len(wantLabels) {
				t.Errorf("inputs %v", f.inputs)
			}
			for name, n := range f.inputs {
				if id := attr(n, "id"); id == "" || f.labels[id] != wantLabels[name] {
					t.Errorf("input %s (id %q) is labelled %q", name, id, f.labels[id])
				}
			}
			if f.buttons["Sign in"] != fieldAction+"="+actionSignIn || f.buttons["Deny"] != fieldAction+"="+actionDeny {
				t.Errorf("buttons %v", f.buttons)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("CSP %q", csp)
			}
		})
	}
}

// submit fills in and sends the login page's form as a browser would.
func (rp *relyingParty) submit(a attempt, fill func(form url.Values)) (*http.Response, string) {
	rp.t.Helper()
	res, body := rp.get(a.url)
	if res.StatusCode != http.StatusOK {
		rp.t.Fatalf("login page: status %d\n%s", res.StatusCode, body)
	}
	f := parseLoginPage(rp.t, body)
	form := url.Values{}
	for k, v := range f.hidden {
		form[k] = v
	}
	for name, n := range f.inputs {
		if attr(n, "type") != "checkbox" || hasAttr(n, "checked") {
			form.Set(name, attr(n, "value"))
		}
	}
	fill(form)
	action, err := url.Parse(a.url)
	if err != nil {
		rp.t.Fatal(err)
	}
	action, err = action.Parse(f.action)
	if err != nil {
		rp.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(form.Encode()))
	if err != nil {
		rp.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return rp.send(req)
}

func TestLoginForm(t *testing.T) {
	idp := startIDP(t)
	rp := newRelyingParty(t, idp)
	tests := []struct {
		name        string
		fill        func(form url.Values)
		want        *claims // signed in as this
		wantError   string  // else sent back with this error
		wantProblem string  // else the page again, saying this
	}{
		{
			name: "as prefilled",
			fill: func(form url.Values) { form.Set(fieldAction, actionSignIn) },
			want: &claims{Subject: SubjectFor("alice@acme.test"), Email: "alice@acme.test", EmailVerified: ptr(true),
				Name: "Alice Anderson", GivenName: "Alice", FamilyName: "Anderson"},
		},
		{
			name: "as the typed person, email not verified",
			fill: func(form url.Values) {
				form.Set(fieldEmail, " carol@initech.test ")
				form.Set(fieldName, "  Carol   de Vries ")
				form.Del(fieldVerified)
				form.Set(fieldAction, actionSignIn)
			},
			want: &claims{Subject: SubjectFor("carol@initech.test"), Email: "carol@initech.test", EmailVerified: ptr(false),
				Name: "Carol de Vries", GivenName: "Carol", FamilyName: "de Vries"},
		},
		{
			name:      "Deny",
			fill:      func(form url.Values) { form.Set(fieldAction, actionDeny) },
			wantError: "access_denied",
		},
		{
			name: "no email",
			fill: func(form url.Values) {
				form.Set(fieldEmail, "")
				form.Set(fieldAction, actionSignIn)
			},
			wantProblem: "Enter an email address.",
		},
		{
			name: "not an email",
			fill: func(form url.Values) {
				form.Set(fieldEmail, "Alice <alice@acme.test>")
				form.Set(fieldAction, actionSignIn)
			},
			wantProblem: "Enter an email address such as alice@acme.test.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A queued sign-in is for requests without the form's answer.
			idp.SignInNext(Person{Email: "queued@acme.test"})
			a := rp.begin()
			queued, _ := rp.signIn(a)
			if c := claimsOf(t, queued); c.Email != "queued@acme.test" {
				t.Fatalf("queued sign-in as %q", c.Email)
			}
			a = rp.begin()
			res, body := rp.submit(a, tc.fill)
			switch {
			case tc.want != nil:
				q := rp.returned(res, body, a)
				tok, err := rp.exchange(q.Get("code"), oauth2.VerifierOption(a.verifier))
				if err != nil {
					t.Fatal(err)
				}
				id, err := rp.verify(tok, a)
				if err != nil {
					t.Fatal(err)
				}
				checkClaims(t, claimsOf(t, id), *tc.want)
			case tc.wantError != "":
				q := rp.returned(res, body, a)
				if q.Get("error") != tc.wantError || q.Get("error_description") == "" || q.Has("code") {
					t.Fatalf("sent back %s", q.Encode())
				}
			default:
				if res.StatusCode != http.StatusUnprocessableEntity {
					t.Fatalf("status %d", res.StatusCode)
				}
				f := parseLoginPage(t, body)
				email := f.inputs[fieldEmail]
				if !strings.Contains(f.text, tc.wantProblem) || attr(email, "aria-invalid") != "true" ||
					attr(email, "aria-describedby") == "" {
					t.Errorf("the page does not say %q beside the email: %s", tc.wantProblem, f.text)
				}
				u, _ := url.Parse(a.url)
				if f.hidden.Encode() != u.Query().Encode() {
					t.Errorf("the request's parameters were not kept: %s", f.hidden.Encode())
				}
			}
		})
	}
}

// TestConcurrentSignInsKeepTheirPeople: sign-ins through the form at the
// same time each get the person typed in (run under -race: mockoidc's
// session store is shared).
func TestConcurrentSignInsKeepTheirPeople(t *testing.T) {
	idp := startIDP(t)
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			email := fmt.Sprintf("person%02d@acme.test", i)
			got, err := signInThroughForm(idp, email, fmt.Sprintf("Person %02d", i))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", email, err)
				return
			}
			if got.Email != email || got.Name != fmt.Sprintf("Person %02d", i) || got.Subject != SubjectFor(email) {
				errs <- fmt.Errorf("%s signed in as %+v", email, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// signInThroughForm is the form flow without *testing.T, for goroutines:
// discovery, the login page's POST, the exchange, verification.
func signInThroughForm(idp *Server, email, name string) (claims, error) {
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, idp.Issuer())
	if err != nil {
		return claims{}, err
	}
	conf := oauth2.Config{ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(), Endpoint: provider.Endpoint(),
		RedirectURL: callbackURL, Scopes: []string{"openid", "email", "profile"}}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	state, nonce, verifier := base64.RawURLEncoding.EncodeToString(b), "n-"+email, oauth2.GenerateVerifier()
	authURL, err := url.Parse(conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return claims{}, err
	}
	form := authURL.Query()
	form.Set(fieldEmail, email)
	form.Set(fieldName, name)
	form.Set(fieldVerified, "on")
	form.Set(fieldAction, actionSignIn)
	authURL.RawQuery = ""
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(authURL.String(), form)
	if err != nil {
		return claims{}, err
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusFound || loc.Query().Get("state") != state {
		return claims{}, fmt.Errorf("authorize: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return claims{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	id, err := provider.Verifier(&oidc.Config{ClientID: idp.ClientID()}).Verify(ctx, raw)
	if err != nil {
		return claims{}, err
	}
	if id.Nonce != nonce {
		return claims{}, fmt.Errorf("nonce %q", id.Nonce)
	}
	var c claims
	return c, id.Claims(&c)
}

func TestTokenEndpoint(t *testing.T) {
	idp := startIDP(t)
	tests := []struct {
		name      string
		change    func(rp *relyingParty)
		opts      []oauth2.AuthCodeOption
		wantError string
	}{
		{name: "client_secret_basic", change: func(rp *relyingParty) { rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader }},
		{name: "client_secret_post", change: func(rp *relyingParty) { rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams }},
		{
			name: "a wrong secret in the header",
			change: func(rp *relyingParty) {
				rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
				rp.conf.ClientSecret = "guess"
			},
			wantError: "invalid_client",
		},
		{
			name: "a wrong secret in the body",
			change: func(rp *relyingParty) {
				rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
				rp.conf.ClientSecret = "guess"
			},
			wantError: "invalid_client",
		},
		{
			name:      "another redirect_uri than the authorization request's",
			opts:      []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("redirect_uri", "http://acme.localhost:8080/elsewhere")},
			wantError: "invalid_grant",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newRelyingParty(t, idp)
			idp.SignInNext(Person{Email: "alice@acme.test"})
			a := rp.begin()
			code := rp.code(a)
			if tc.change != nil {
				tc.change(rp)
			}
			tok, err := rp.exchange(code, append(tc.opts, oauth2.VerifierOption(a.verifier))...)
			if tc.wantError == "" {
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				if _, err := rp.verify(tok, a); err != nil {
					t.Fatal(err)
				}
				return
			}
			var re *oauth2.RetrieveError
			if !errors.As(err, &re) || re.ErrorCode != tc.wantError {
				t.Fatalf("exchange: %v, want %s", err, tc.wantError)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	idp := startIDP(t)
	res, err := http.Get(idp.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(idp.Issuer(), "/oidc")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("issuer %q", idp.Issuer())
	}
	for field, want := range map[string]string{
		"issuer":                                idp.Issuer(),
		"authorization_endpoint":                base + "/oidc/authorize",
		"token_endpoint":                        base + "/oidc/token",
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"jwks_uri":                              base + "/oidc/.well-known/jwks.json",
		"id_token_signing_alg_values_supported": `["RS256"]`,
		"code_challenge_methods_supported":      `["S256"]`,
		"response_types_supported":              `["code"]`,
		"scopes_supported":                      `["openid","email","profile"]`,
		"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post"]`,
		"claims_supported":                      `["iss","sub","aud","exp","iat","nbf","nonce","email","email_verified","name","given_name","family_name"]`,
	} {
		got, ok := d[field].(string)
		if !ok {
			b, _ := json.Marshal(d[field])
			got = string(b)
		}
		if got != want {
			t.Errorf("%s = %s, want %s", field, got, want)
		}
	}
}

func TestStart(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		idp := startIDP(t)
		if idp.ClientID() != "canopy-dev" || idp.ClientSecret() != "canopy-dev-secret" {
			t.Errorf("client %q %q", idp.ClientID(), idp.ClientSecret())
		}
	})
	t.Run("a client of its own", func(t *testing.T) {
		idp, err := Start(Config{Addr: "localhost:0", ClientID: "other", ClientSecret: "s3cret"})
		if err != nil {
			t.Fatal(err)
		}
		defer idp.Close()
		if idp.ClientID() != "other" || idp.ClientSecret() != "s3cret" {
			t.Errorf("client %q %q", idp.ClientID(), idp.ClientSecret())
		}
		rp := newRelyingParty(t, idp)
		idp.SignInNext(Person{Email: "alice@acme.test"})
		rp.signIn(rp.begin())
	})
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "[::]:0", "example.com:0", "no-port"} {
		t.Run("refuses "+addr, func(t *testing.T) {
			idp, err := Start(Config{Addr: addr})
			if err == nil {
				idp.Close()
				t.Fatal("started")
			}
		})
	}
	t.Run("closes at once beside a connection that sent nothing", func(t *testing.T) {
		idp, err := Start(Config{Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		silent, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(idp.Issuer(), "/oidc"), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		// Let the server accept it before closing.
		newRelyingParty(t, idp)
		start := time.Now()
		if err := idp.Close(); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("Close took %v", took)
		}
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if idp, err := Start(Config{Addr: ln.Addr().String()}); err == nil {
			idp.Close()
			t.Fatal("started")
		}
	})
}
