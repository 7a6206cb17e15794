// Package devidp is Canopy's development OpenID Connect identity provider: a
// real provider on loopback, for trying single sign-on locally (`canopy
// devidp`) and for tests that need one (Start with Addr "127.0.0.1:0").
//
// It is mockoidc (discovery, JWKS, token and userinfo endpoints, RS256
// tokens, single-use codes) with what a relying party's developer needs on
// top: a login page that asks who to be, a queue of sign-ins and denials for
// tests that drive the flow with an http.Client, PKCE restricted to S256,
// redirect_uri checked at the token endpoint, client_secret_basic as well as
// client_secret_post, and ID tokens that misbehave on request.
//
// Claims follow the scopes asked for, as real providers do: email and
// email_verified with "email"; name, given_name and family_name with
// "profile".
//
// Anyone can sign in as anyone here, so it listens on loopback only.
package devidp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oauth2-proxy/mockoidc"
)

// The defaults `canopy devidp` runs with; the demo data configures Acme Corp
// with the same.
const (
	DefaultAddr         = "127.0.0.1:9998"
	DefaultClientID     = "canopy-dev"
	DefaultClientSecret = "canopy-dev-secret" //nolint:gosec // G101: a published development secret for a loopback-only provider, by design
)

// codeTTL is how long an authorization code can be exchanged: real
// providers allow a minute to ten; a relying party that waits longer has a
// bug worth seeing.
const codeTTL = 5 * time.Minute

// maxBody bounds what a request may send: the largest is the login form.
const maxBody = 64 << 10

// Config says where to listen and which client to accept. Zero fields take
// the defaults above.
type Config struct {
	Addr         string // listen address, e.g. "127.0.0.1:9998"; "127.0.0.1:0" in tests
	ClientID     string // default "canopy-dev"
	ClientSecret string // default "canopy-dev-secret"
	// Log, when set, gets one line per sign-in and denial.
	Log *slog.Logger
}

// Server is a running provider.
type Server struct {
	oidc *mockoidc.MockOIDC
	ln   *listener
	log  *slog.Logger

	// mu serialises every request, and SignInNext and DenyNext with them:
	// mockoidc's session map is not safe for concurrent use, and queuing a
	// person then authorizing must be one step, or concurrent sign-ins could
	// swap people.
	mu    sync.Mutex
	next  []action         // what the next authorization requests do, first first
	codes map[string]grant // by authorization code
}

// action is a queued answer to an authorization request: deny it, or sign
// in as person.
type action struct {
	deny   bool
	person Person
}

// grant is what the token endpoint must check about a code that mockoidc
// does not: that it is exchanged soon, for the redirect_uri it was issued to.
type grant struct {
	redirectURI string
	issued      time.Time
}

// Start listens on cfg.Addr, which must be a loopback address, and serves
// in the background until Close.
func Start(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if err := checkLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	key, err := signingKey()
	if err != nil {
		return nil, err
	}
	m, err := mockoidc.NewServer(key)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	m.ClientID = cfg.ClientID
	m.ClientSecret = cfg.ClientSecret
	// Plain PKCE protects nothing a relying party should rely on; offering
	// only S256 makes one that falls back to plain fail here, not later.
	m.CodeChallengeMethodsSupported = []string{mockoidc.CodeChallengeMethodS256}
	s := &Server{oidc: m, log: cfg.Log, codes: map[string]grant{}}
	if err := m.AddMiddleware(s.intercept); err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("devidp: listen on %s: %w", cfg.Addr, err)
	}
	s.ln = &listener{Listener: ln, conns: map[*conn]struct{}{}}
	if err := m.Start(s.ln, nil); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("devidp: %w", err)
	}
	return s, nil
}

// checkLoopback refuses addresses other machines could reach: this
// provider signs in anyone as anyone.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("devidp: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("devidp: address %q is not loopback (127.0.0.1, ::1 or localhost): anyone who can reach it can sign in as anyone", addr)
}

var (
	keyOnce sync.Once
	key     *rsa.PrivateKey
	errKey  error
)

// signingKey is one RSA key per process, made at first use: mockoidc's
// default key is published in its source, so tokens signed with it would
// prove nothing, and a key per Server would cost every test that starts one.
func signingKey() (*rsa.PrivateKey, error) {
	keyOnce.Do(func() {
		key, errKey = rsa.GenerateKey(rand.Reader, 2048)
		if errKey != nil {
			errKey = fmt.Errorf("devidp: signing key: %w", errKey)
		}
	})
	return key, errKey
}

// Issuer is the issuer URL, exactly as discovery and the ID tokens say it.
func (s *Server) Issuer() string { return s.oidc.Issuer() }

// ClientID is the one client this provider accepts.
func (s *Server) ClientID() string { return s.oidc.ClientID }

// ClientSecret is that client's secret.
func (s *Server) ClientSecret() string { return s.oidc.ClientSecret }

// Close stops serving, letting requests in flight finish for a few seconds.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.oidc.Server.Shutdown(ctx) }()
	// Shutdown would wait five seconds for connections that never sent a
	// request (HTTP clients dial spares when requests run concurrently);
	// nothing has been read from them, so they go at once.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		s.ln.closeUnused()
		select {
		case err := <-done:
			if err != nil {
				_ = s.oidc.Server.Close()
				return fmt.Errorf("devidp: close: %w", err)
			}
			return nil
		case <-tick.C:
		}
	}
}

// listener keeps the connections it accepted, so that Close can end those
// that never sent a byte.
type listener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*conn]struct{}
}

type conn struct {
	net.Conn
	ln   *listener
	used atomic.Bool // has sent something
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &conn{Conn: c, ln: l}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[tc] = struct{}{}
	return tc, nil
}

func (l *listener) closeUnused() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		if !c.used.Load() {
			_ = c.Conn.Close()
		}
	}
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.used.Store(true)
	}
	return n, err
}

func (c *conn) Close() error {
	c.ln.mu.Lock()
	delete(c.ln.conns, c)
	c.ln.mu.Unlock()
	return c.Conn.Close()
}

// SignInNext makes the next authorization request that reaches sign-in
// (one with a valid client_id and redirect_uri) sign in as p at once,
// without showing the login page. Calls queue up, first first; tests that
// sign in concurrently should each use a Server of their own, or the form.
func (s *Server) SignInNext(p Person) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = append(s.next, action{person: p})
}

// DenyNext makes the next authorization request that reaches sign-in
// redirect back with error=access_denied and its state.
func (s *Server) DenyNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = append(s.next, action{deny: true})
}

// intercept wraps each of mockoidc's endpoints: it reads the form before
// taking the lock (a slow client must not hold up the others), then runs
// the request under the lock, taking over the authorization endpoint and
// checking more at the token endpoint.
func (s *Server) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "unreadable request: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		switch r.URL.Path {
		case mockoidc.AuthorizationEndpoint:
			s.authorize(w, r, next)
		case mockoidc.TokenEndpoint:
			s.token(w, r, next)
		case mockoidc.DiscoveryEndpoint:
			rec := newRecorder()
			next.ServeHTTP(rec, r)
			rec.replay(w, fixDiscovery)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// signIn passes an authorization request on to mockoidc's Authorize, which
// redirects back with a code for p. The caller holds mu, so the person and
// code queued here are the ones Authorize takes.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request, params url.Values, p Person, authorize http.Handler) {
	code, err := newCode()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	u := newUser(p)
	s.oidc.QueueCode(code)
	s.oidc.QueueUser(u)

	// mockoidc reads its parameters from the form; give it exactly the
	// authorization request's, whatever the login form added.
	req := r.Clone(r.Context())
	req.Method = http.MethodGet
	req.URL.RawQuery = params.Encode()
	req.Body = http.NoBody
	req.ContentLength = 0
	req.Header.Del("Content-Type")
	req.Form, req.PostForm = nil, nil
	authorize.ServeHTTP(w, req)

	// Authorize takes the person and the code only once it has accepted
	// the request; if it refused, neither may wait for the next one.
	userLeft := drainUsers(s.oidc.UserQueue)
	codeLeft := drainCodes(s.oidc.SessionStore.CodeQueue)
	if userLeft || codeLeft {
		return
	}
	s.forgetOldCodes()
	s.codes[code] = grant{redirectURI: params.Get("redirect_uri"), issued: time.Now()}
	if s.log != nil {
		s.log.Info("devidp: signed in", "email", p.Email, "sub", u.ID(), "client_id", params.Get("client_id"))
	}
}

// drainUsers empties the queue and says whether anything was left in it.
func drainUsers(q *mockoidc.UserQueue) bool {
	q.Lock()
	defer q.Unlock()
	left := len(q.Queue) > 0
	q.Queue = nil
	return left
}

// drainCodes empties the queue and says whether anything was left in it.
func drainCodes(q *mockoidc.CodeQueue) bool {
	q.Lock()
	defer q.Unlock()
	left := len(q.Queue) > 0
	q.Queue = nil
	return left
}

func (s *Server) forgetOldCodes() {
	for code, g := range s.codes {
		if time.Since(g.issued) > codeTTL {
			delete(s.codes, code)
		}
	}
}

func newCode() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("devidp: code: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// deny redirects back to the relying party saying the person refused.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, params url.Values, description string) {
	if s.log != nil {
		s.log.Info("devidp: denied", "client_id", params.Get("client_id"))
	}
	redirectError(w, r, params, "access_denied", description)
}

// redirectError sends an authorization error back to the validated
// redirect_uri, with the request's state, keeping the URI's own query.
func redirectError(w http.ResponseWriter, r *http.Request, params url.Values, code, description string) {
	u, err := url.Parse(params.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", description)
	if state := params.Get("state"); state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// token checks what mockoidc's token endpoint does not, then passes the
// request on: credentials in an Authorization header (client_secret_basic,
// which discovery advertises), a code exchanged within codeTTL for the
// redirect_uri it was issued to.
func (s *Server) token(w http.ResponseWriter, r *http.Request, next http.Handler) {
	if id, secret, ok := r.BasicAuth(); ok {
		// RFC 6749 2.3.1: the header's parts are form-encoded first.
		id, errID := url.QueryUnescape(id)
		secret, errSecret := url.QueryUnescape(secret)
		switch {
		case errID != nil || errSecret != nil:
			tokenError(w, "invalid_client", "the Authorization header is not form-encoded", http.StatusUnauthorized)
			return
		case r.Form.Get("client_secret") != "":
			tokenError(w, "invalid_request", "client credentials both in the Authorization header and in the body", http.StatusBadRequest)
			return
		case r.Form.Get("client_id") != "" && r.Form.Get("client_id") != id:
			tokenError(w, "invalid_client", "client_id differs from the Authorization header's", http.StatusUnauthorized)
			return
		}
		r.Form.Set("client_id", id)
		r.Form.Set("client_secret", secret)
	}
	if r.Form.Get("grant_type") == "authorization_code" {
		if g, ok := s.codes[r.Form.Get("code")]; ok {
			if time.Since(g.issued) > codeTTL {
				tokenError(w, "invalid_grant", "the code has expired", http.StatusBadRequest)
				return
			}
			if r.Form.Get("redirect_uri") != g.redirectURI {
				tokenError(w, "invalid_grant", "redirect_uri differs from the authorization request's", http.StatusBadRequest)
				return
			}
		}
	}
	rec := newRecorder()
	next.ServeHTTP(rec, r)
	// mockoidc writes expires_in in nanoseconds.
	rec.replay(w, func(fields map[string]any) {
		if _, ok := fields["expires_in"]; ok {
			fields["expires_in"] = int64(s.oidc.AccessTTL / time.Second)
		}
	})
}

func tokenError(w http.ResponseWriter, code, description string, status int) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, description)
}

// recorder holds one of mockoidc's JSON responses so that fields it gets
// wrong can be put right before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(b []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(b)
}

// replay sends the response, with fix's changes to its fields when it is a
// success; a body that is not a JSON object goes as it is.
func (rec *recorder) replay(w http.ResponseWriter, fix func(fields map[string]any)) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	body := rec.body.Bytes()
	var fields map[string]any
	if rec.status == http.StatusOK && json.Unmarshal(body, &fields) == nil {
		fix(fields)
		if fixed, err := json.Marshal(fields); err == nil {
			body = fixed
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	_, _ = w.Write(body)
}

// Scopes and claims as this provider serves them, for discovery: mockoidc
// lists those of its own user type.
var (
	scopesSupported = []string{"openid", "email", "profile"}
	claimsSupported = []string{
		"iss", "sub", "aud", "exp", "iat", "nbf", "nonce",
		"email", "email_verified", "name", "given_name", "family_name",
	}
)

func fixDiscovery(fields map[string]any) {
	fields["scopes_supported"] = scopesSupported
	fields["claims_supported"] = claimsSupported
}
