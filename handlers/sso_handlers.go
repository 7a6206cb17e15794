package handlers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"canopy/internal/handoff"
	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// Single sign-on runs the OpenID Connect Authorization Code flow with PKCE.
// The identity provider sends people back to the host of the tenant whose
// connection is in force (its owner), one redirect URI for its whole
// inheriting subtree; a sign-in for a tenant below it then continues there
// with a hand-off, as a company switch does. Nothing of it signs anyone in
// on the base domain or in any other company.

const (
	ssoAttemptMaxAge = 10 * 60 // seconds a browser may spend at its identity provider
	ssoCallbackPath  = views.SSOCallbackPath
	keySSOLink       = "sso_link" // a sign-in waiting for its account's password
)

// ssoAttempt is what the browser carries, sealed, from the start of a
// sign-in to its callback: the values only it and Canopy know.
type ssoAttempt struct {
	State        string `json:"s"`
	Nonce        string `json:"n"`
	Verifier     string `json:"v"`
	ConnectionID int64  `json:"c"`
	TargetID     int64  `json:"t"` // the tenant signing in; the owner's host runs the flow
	Handoff      string `json:"h"` // the target host's hand-off state, when it is not the owner
	Next         string `json:"x"`
}

func (h *Handlers) ssoCookieName() string {
	if h.cfg.Secure() {
		return "__Host-canopy_sso"
	}
	return "canopy_sso"
}

func (h *Handlers) ssoCodec() *securecookie.SecureCookie {
	codec := securecookie.New(h.secrets.SSOState, h.secrets.SSOStateBlock)
	codec.MaxAge(ssoAttemptMaxAge)
	codec.SetSerializer(securecookie.JSONEncoder{})
	return codec
}

// signInPage is a company's sign-in page (or the base domain's).
func (h *Handlers) signInPage(target *models.Tenant) string {
	q := url.Values{}
	if target != nil {
		q.Set("tenant", target.Subdomain)
	}
	return h.cfg.BaseLink("/login", q)
}

// ssoFailure is the page every failed single sign-on ends on: what
// happened in plain words and the way back to the sign-in page.
func (h *Handlers) ssoFailure(target *models.Tenant, status int, heading, message string) *pageError {
	return &pageError{status: status, heading: heading, message: message,
		href: h.signInPage(target), label: "Back to sign in"}
}

// startSSO is "Sign in with SSO" on a company's host: it finds the
// connection in force there and sends the browser to its owner's host,
// which runs the flow. A company below the owner first gives the browser a
// hand-off state, so the sign-in can come back here.
func (h *Handlers) startSSO(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	inForce, err := h.store.SSOInForce(c.Request().Context(), rs.lineage)
	if errors.Is(err, models.ErrNotFound) {
		return h.ssoFailure(rs.tenant, http.StatusNotFound, rs.tenant.Name+" has no single sign-on",
			"Sign in with your email and password instead.")
	}
	if err != nil {
		return err
	}
	q := url.Values{"tenant": {rs.tenant.Subdomain}}
	if next := safeNext(c.QueryParam("next")); next != "" && next != "/" {
		q.Set("next", next)
	}
	if email := models.NormalizeEmail(c.QueryParam("email")); models.ValidateEmail(email) == "" {
		q.Set("login_hint", email)
	}
	if inForce.Owner.ID != rs.tenant.ID {
		q.Set("handoff", h.newHandoffState(c))
	}
	return c.Redirect(http.StatusSeeOther, h.cfg.TenantURL(inForce.Owner.Subdomain, "/auth/sso/begin")+"?"+q.Encode())
}

// beginSSO runs on the owner's host: it checks that its connection is the
// one in force at the tenant signing in, seals the attempt into a cookie of
// this host and sends the browser to the identity provider.
func (h *Handlers) beginSSO(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	ctx := c.Request().Context()
	target, inForce, err := h.ssoTarget(ctx, c.QueryParam("tenant"), rs.tenant)
	if err != nil {
		return err
	}
	conn, err := h.ownConnection(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	if conn.ID != inForce.ConnectionID {
		return errNotFound
	}
	provider, err := h.ssoProviders.get(ctx, conn.Issuer, h.now())
	if err != nil {
		h.logFor(c).Warn("single sign-on: provider unreachable", "tenant", rs.tenant.ID, "err", err)
		return h.ssoFailure(target, http.StatusBadGateway, "We could not reach your identity provider",
			"Try again in a minute. If it keeps happening, ask your administrator to check the single sign-on settings.")
	}
	attempt := ssoAttempt{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		ConnectionID: conn.ID, TargetID: target.ID, Next: safeNext(c.QueryParam("next"))}
	if target.ID != rs.tenant.ID {
		if attempt.Handoff = cleanState(c.QueryParam("handoff")); attempt.Handoff == "" {
			return h.ssoFailure(target, http.StatusBadRequest, "This sign-in link is incomplete", "Start again from the sign-in page.")
		}
	}
	sealed, err := h.ssoCodec().Encode(h.ssoCookieName(), attempt)
	if err != nil {
		return fmt.Errorf("seal sso attempt: %w", err)
	}
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: Secure whenever Canopy is served over https
		Name: h.ssoCookieName(), Value: sealed, Path: "/", MaxAge: ssoAttemptMaxAge,
		HttpOnly: true, Secure: h.cfg.Secure(), SameSite: http.SameSiteLaxMode,
	})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(attempt.Verifier), oidc.Nonce(attempt.Nonce)}
	if hint := c.QueryParam("login_hint"); models.ValidateEmail(hint) == "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	return c.Redirect(http.StatusSeeOther, h.oauthConfig(rs.tenant, conn, provider, "").AuthCodeURL(attempt.State, opts...))
}

// ssoTarget is the tenant a sign-in is for, named by subdomain, with the
// connection in force there, which must be owned by the host's tenant: a
// connection signs people in only where it is in force.
func (h *Handlers) ssoTarget(ctx context.Context, subdomain string, host *models.Tenant) (*models.Tenant, *models.SSOInForce, error) {
	lineage, err := h.store.LineageBySubdomain(ctx, subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, errNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return h.ssoTargetOf(ctx, lineage, host)
}

func (h *Handlers) ssoTargetOf(ctx context.Context, lineage models.Lineage, host *models.Tenant) (*models.Tenant, *models.SSOInForce, error) {
	target := lineage.Tenant()
	inForce, err := h.store.SSOInForce(ctx, lineage)
	if errors.Is(err, models.ErrNotFound) || err == nil && inForce.Owner.ID != host.ID {
		return nil, nil, errNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	if !lineage.Reachable() {
		return nil, nil, h.ssoFailure(target, http.StatusForbidden, target.Name+" is inactive",
			"Nobody can sign in to it until it is reactivated.")
	}
	return target, inForce, nil
}

// ownConnection reads the host tenant's own connection, secret sealed.
// A sign-in has nobody in the tenant's scope yet; the reason to read it is
// the sign-in the host runs for its own connection.
func (h *Handlers) ownConnection(ctx context.Context, tenantID int64) (*models.SSOConnection, error) {
	var conn *models.SSOConnection
	err := h.store.Within(ctx, models.Scope{TenantID: tenantID}, func(ctx context.Context, tx *models.Store) error {
		var err error
		conn, err = tx.SSOConnectionOf(ctx, tenantID)
		return err
	})
	if errors.Is(err, models.ErrNotFound) {
		return nil, errNotFound
	}
	return conn, err
}

func (h *Handlers) oauthConfig(owner *models.Tenant, conn *models.SSOConnection, provider *oidc.Provider, secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: conn.ClientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: h.cfg.TenantURL(owner.Subdomain, ssoCallbackPath),
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}
}

// ssoClaims are the ID token claims Canopy uses.
type ssoClaims struct {
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"` // a boolean, or "true" from some providers
	// DomainOwnerVerified is Microsoft Entra ID's xms_edov: the email's
	// domain is verified by the directory's owner. Entra sends no
	// email_verified; without one, this stands in for it.
	DomainOwnerVerified any    `json:"xms_edov"`
	Name                string `json:"name"`
	GivenName           string `json:"given_name"`
	FamilyName          string `json:"family_name"`
}

func (cl ssoClaims) verified() bool {
	if cl.EmailVerified == nil {
		return isTrue(cl.DomainOwnerVerified)
	}
	return isTrue(cl.EmailVerified)
}

// isTrue reads a claim that should be a boolean; some providers send a string.
func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// names splits the claims into first and last name.
func (cl ssoClaims) names() (string, string) {
	if cl.GivenName != "" || cl.FamilyName != "" {
		return cl.GivenName, cl.FamilyName
	}
	first, last, _ := strings.Cut(strings.TrimSpace(cl.Name), " ")
	return first, last
}

// ssoIdentity is who the identity provider vouched for.
type ssoIdentity struct {
	Issuer, Subject, Email, FirstName, LastName string
}

// ssoCallback is where the identity provider sends the browser back: the
// attempt's cookie must be there and match the state, the code is
// exchanged with the PKCE verifier, and the ID token's signature, issuer,
// audience, expiry and nonce are checked before its email is believed.
func (h *Handlers) ssoCallback(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	ctx := c.Request().Context()
	attempt, err := h.takeSSOAttempt(c)
	if err != nil {
		// Logged, not audited: without an attempt this browser started here,
		// anyone could write into the company's log.
		h.logFor(c).Info("single sign-on refused: no attempt cookie", "tenant", rs.tenant.ID, "ip", c.RealIP())
		return h.ssoFailure(nil, http.StatusBadRequest,
			"This sign-in has expired", "Single sign-on must finish in the browser that started it, within 10 minutes. Start again.")
	}
	lineage, err := h.store.LineageByID(ctx, attempt.TargetID)
	if err != nil {
		return err
	}
	target, inForce, err := h.ssoTargetOf(ctx, lineage, rs.tenant)
	if err != nil {
		return err
	}
	if inForce.ConnectionID != attempt.ConnectionID {
		return h.failSSO(c, target, "", "connection changed during sign-in", h.ssoFailure(target, http.StatusConflict,
			"Single sign-on changed while you were signing in", "Start again."))
	}
	if subtle.ConstantTimeCompare([]byte(c.QueryParam("state")), []byte(attempt.State)) != 1 {
		return h.failSSO(c, target, "", "state mismatch", h.ssoFailure(target, http.StatusBadRequest,
			"This sign-in did not start here", "The answer from the identity provider does not belong to the sign-in this browser started. Start again."))
	}
	if code := c.QueryParam("error"); code != "" {
		code = oauthErrorCode(code)
		desc := c.QueryParam("error_description")
		return h.failSSO(c, target, "", "identity provider: "+code, h.ssoFailure(target, http.StatusForbidden,
			"Your identity provider did not sign you in", providerErrorMessage(code, desc)))
	}
	who, failure := h.verifySSOCode(c, target, attempt)
	if failure != nil {
		return failure
	}
	if !inForce.Covers(who.Email) {
		return h.failSSO(c, target, who.Email, "email domain not covered", h.ssoFailure(target, http.StatusForbidden,
			"This email cannot sign in here", who.Email+" is not an address of a domain "+target.Name+"'s single sign-on has proven. Sign in with your password, or ask your administrator."))
	}
	return h.signInWithIdentity(c, target, inForce, attempt, who)
}

// oauthErrorCode keeps an OAuth error code as RFC 6749 spells them (a few
// ASCII letters and underscores); anything else, which the URL's sender
// chose, is not repeated into the audit log or the page.
func oauthErrorCode(code string) string {
	if len(code) > 40 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return "unrecognised_error"
	}
	return code
}

// providerErrorMessage says what an identity provider's refusal means.
func providerErrorMessage(code, desc string) string {
	msg := "It answered \"" + code + "\""
	if code == "access_denied" {
		msg = "You, or a rule of your organisation, declined the sign-in"
	}
	if desc = strings.TrimRight(strings.TrimSpace(desc), ". "); desc != "" && len(desc) < 300 {
		msg += ": " + desc
	}
	return msg + ". Start again, or ask your administrator."
}

// takeSSOAttempt reads and deletes the attempt's cookie: each works once.
func (h *Handlers) takeSSOAttempt(c echo.Context) (*ssoAttempt, error) {
	cookie, err := c.Cookie(h.ssoCookieName())
	if err != nil {
		return nil, err
	}
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: Secure whenever Canopy is served over https
		Name: h.ssoCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.cfg.Secure(), SameSite: http.SameSiteLaxMode,
	})
	var attempt ssoAttempt
	if err := h.ssoCodec().Decode(h.ssoCookieName(), cookie.Value, &attempt); err != nil {
		return nil, err
	}
	return &attempt, nil
}

// verifySSOCode exchanges the code and verifies the ID token. Any failure
// is audited and returned as the page to show.
func (h *Handlers) verifySSOCode(c echo.Context, target *models.Tenant, attempt *ssoAttempt) (*ssoIdentity, error) {
	rs := stateOf(c)
	ctx := c.Request().Context()
	conn, err := h.ownConnection(ctx, rs.tenant.ID)
	if err != nil {
		return nil, err
	}
	secret, err := h.sealer.Open(conn.ClientSecretSealed, models.SSOSecretBinding(conn.TenantID))
	if err != nil {
		return nil, fmt.Errorf("open sso client secret of tenant %d: %w", conn.TenantID, err)
	}
	provider, err := h.ssoProviders.get(ctx, conn.Issuer, h.now())
	if err != nil {
		return nil, h.failSSO(c, target, "", "provider unreachable", h.ssoFailure(target, http.StatusBadGateway,
			"We could not reach your identity provider", "Try again in a minute."))
	}
	release, err := h.ssoProviders.acquire(conn.Issuer, h.now())
	if err != nil {
		return nil, h.ssoFailure(target, http.StatusServiceUnavailable, "Your identity provider is slow to answer", "Try again in a minute.")
	}
	defer release()
	callCtx, cancel := context.WithTimeout(h.ssoProviders.context(ctx), ssoHTTPTimeout)
	defer cancel()
	token, err := h.oauthConfig(rs.tenant, conn, provider, secret).Exchange(callCtx, c.QueryParam("code"), oauth2.VerifierOption(attempt.Verifier))
	if err != nil {
		h.logFor(c).Warn("single sign-on: code exchange refused", "tenant", rs.tenant.ID, "err", err)
		return nil, h.failSSO(c, target, "", "code exchange refused", h.ssoFailure(target, http.StatusBadRequest,
			"Your identity provider refused this sign-in", "The sign-in code was not accepted: it may have been used already or have expired. Start again."))
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		return nil, h.failSSO(c, target, "", "no id token", h.ssoFailure(target, http.StatusBadGateway,
			"Your identity provider sent no ID token", "Ask your administrator to check that the openid scope is allowed."))
	}
	idToken, err := provider.VerifierContext(callCtx, &oidc.Config{ClientID: conn.ClientID, Now: h.now}).Verify(callCtx, raw)
	if err != nil {
		h.logFor(c).Warn("single sign-on: ID token refused", "tenant", rs.tenant.ID, "err", err)
		return nil, h.failSSO(c, target, "", "id token refused: "+tokenProblem(err), h.ssoFailure(target, http.StatusBadRequest,
			"The sign-in could not be verified", "The identity provider's answer "+tokenProblem(err)+". Start again, or ask your administrator."))
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(attempt.Nonce)) != 1 {
		return nil, h.failSSO(c, target, "", "nonce mismatch", h.ssoFailure(target, http.StatusBadRequest,
			"The sign-in could not be verified", "The identity provider's answer was not made for this sign-in. Start again."))
	}
	var claims ssoClaims
	if err := idToken.Claims(&claims); err != nil {
		return nil, fmt.Errorf("read id token claims: %w", err)
	}
	email := models.NormalizeEmail(claims.Email)
	if models.ValidateEmail(email) != "" {
		return nil, h.failSSO(c, target, "", "no usable email", h.ssoFailure(target, http.StatusBadRequest,
			"Your identity provider sent no email address", "Ask your administrator to allow the email scope."))
	}
	if !claims.verified() {
		return nil, h.failSSO(c, target, email, "email not verified", h.ssoFailure(target, http.StatusForbidden,
			"Your email address is not verified", "Your identity provider does not vouch for "+email+". Verify it there, then start again."))
	}
	first, last := claims.names()
	return &ssoIdentity{Issuer: idToken.Issuer, Subject: idToken.Subject, Email: email, FirstName: first, LastName: last}, nil
}

// tokenProblem says in words what go-oidc found wrong with an ID token.
func tokenProblem(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "had expired"
	case strings.Contains(msg, "expected audience"):
		return "was made for another application"
	case strings.Contains(msg, "issued by a different provider"):
		return "came from another identity provider"
	case strings.Contains(msg, "signature"):
		return "was not signed by the identity provider"
	}
	return "was not valid"
}

// signInWithIdentity finds or makes the account of a verified identity:
// linked by (issuer, subject) first; else the account with that email,
// which is linked once its password is given (unless the domain is proven
// by DNS); else a new account without a password. The person joins the
// tenant with the connection's role if not yet a member, and is signed in.
func (h *Handlers) signInWithIdentity(c echo.Context, target *models.Tenant, inForce *models.SSOInForce, attempt *ssoAttempt, who *ssoIdentity) error {
	ctx := c.Request().Context()
	userID, err := h.store.IdentityUser(ctx, who.Issuer, who.Subject)
	switch {
	case err == nil:
		return h.completeSSO(c, target, inForce, attempt, who, userID, false)
	case !errors.Is(err, models.ErrNotFound):
		return err
	}
	existing, err := h.store.UserByEmail(ctx, who.Email)
	switch {
	case errors.Is(err, models.ErrNotFound):
		u, err := h.store.CreateSSOUser(ctx, who.Email, who.FirstName, who.LastName)
		if err != nil {
			return err
		}
		return h.completeSSO(c, target, inForce, attempt, who, u.ID, true)
	case err != nil:
		return err
	}
	if existing.Status != models.UserActive {
		return h.failSSO(c, target, who.Email, "account disabled", h.ssoFailure(target, http.StatusForbidden,
			"This account cannot sign in", "Ask your administrator."))
	}
	if !inForce.ProvenByDNS(who.Email) {
		if err := h.scopeAs(c, models.Scope{UserID: existing.ID}); err != nil {
			return err
		}
		hasPassword, err := h.store.HasPassword(ctx, existing.ID)
		if err != nil {
			return err
		}
		if !hasPassword {
			// Nothing proves the provider speaks for this account: its
			// domain is only approved, and it has no password to give.
			return h.failSSO(c, target, who.Email, "existing account, domain not proven by DNS, no password", h.ssoFailure(target, http.StatusForbidden,
				"This account cannot be linked here",
				who.Email+" already has a Canopy account, which signs in another way. Ask "+target.Name+"'s administrator: their domain needs a DNS record before single sign-on can take over existing accounts."))
		}
		if existing.TwoFactorEnabled {
			return h.refuseLinkWithSecondFactor(c, target, who.Email)
		}
		return h.askToLink(c, target, attempt, who, existing)
	}
	return h.completeSSO(c, target, inForce, attempt, who, existing.ID, false)
}

// pendingLink is a verified identity waiting, in the owner host's session,
// for the password of the account with its email.
type pendingLink struct {
	Identity ssoIdentity `json:"i"`
	Attempt  ssoAttempt  `json:"a"`
	UserID   int64       `json:"u"`
	Expires  int64       `json:"e"`
}

// askToLink shows the password form that links an existing account to an
// identity the first time: a domain only approved, not proven by DNS,
// does not on its own prove that its provider speaks for that account.
func (h *Handlers) askToLink(c echo.Context, target *models.Tenant, attempt *ssoAttempt, who *ssoIdentity, u *models.User) error {
	rs := stateOf(c)
	if err := h.scopeRequest(c); err != nil {
		return err
	}
	raw, err := json.Marshal(pendingLink{Identity: *who, Attempt: *attempt, UserID: u.ID, Expires: h.now().Add(ssoAttemptMaxAge * time.Second).Unix()})
	if err != nil {
		return err
	}
	rs.session.Values[keySSOLink] = string(raw)
	rs.dirty = true
	return h.render(c, http.StatusOK, pages.SSOLink(h.shell(c, "Confirm your account", ""), pages.SSOLinkForm{Email: who.Email, TenantName: target.Name, CancelHref: h.signInPage(target)}))
}

// linkAccount takes the password of the account a pending identity names
// and, when it is right, links them and finishes the sign-in. Attempts
// count against the same limits as any sign-in.
func (h *Handlers) linkAccount(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	raw, _ := rs.session.Values[keySSOLink].(string)
	var pending pendingLink
	if raw == "" || json.Unmarshal([]byte(raw), &pending) != nil || h.now().Unix() > pending.Expires {
		delete(rs.session.Values, keySSOLink)
		rs.dirty = true
		return h.ssoFailure(nil, http.StatusBadRequest, "This sign-in has expired", "Start again from the sign-in page.")
	}
	ctx := c.Request().Context()
	lineage, err := h.store.LineageByID(ctx, pending.Attempt.TargetID)
	if err != nil {
		return err
	}
	target, inForce, err := h.ssoTargetOf(ctx, lineage, rs.tenant)
	if err != nil {
		return err
	}
	if inForce.ConnectionID != pending.Attempt.ConnectionID || !inForce.Covers(pending.Identity.Email) {
		delete(rs.session.Values, keySSOLink)
		rs.dirty = true
		return h.ssoFailure(target, http.StatusConflict, "Single sign-on changed while you were signing in", "Start again.")
	}
	form := pages.SSOLinkForm{Email: pending.Identity.Email, TenantName: target.Name, CancelHref: h.signInPage(target)}
	password := c.FormValue("password")
	if password == "" {
		form.Error = "Enter your password."
		return h.render(c, http.StatusUnprocessableEntity, pages.SSOLink(h.shell(c, "Confirm your account", ""), form))
	}
	devices := h.knownDevices(c)
	attempt, err := h.beginSignIn(c, pending.Identity.Email, devices)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		form.Error = "Too many attempts. " + h.retryLater(c, attempt)
		return h.render(c, http.StatusTooManyRequests, pages.SSOLink(h.shell(c, "Confirm your account", ""), form))
	}
	u, err := h.store.Authenticate(ctx, pending.Identity.Email, password)
	if errors.Is(err, models.ErrBadCredentials) || err == nil && u.ID != pending.UserID {
		if err := h.failSSO(c, target, pending.Identity.Email, "wrong password when linking", nil); err != nil {
			return err
		}
		form.Error = "That password is not correct."
		return h.render(c, http.StatusUnauthorized, pages.SSOLink(h.shell(c, "Confirm your account", ""), form))
	}
	if err != nil {
		return err
	}
	if err := h.store.AttemptSucceeded(ctx, attempt); err != nil {
		return err
	}
	delete(rs.session.Values, keySSOLink)
	rs.dirty = true
	if u.TwoFactorEnabled { // turned on since the form was shown
		return h.refuseLinkWithSecondFactor(c, target, pending.Identity.Email)
	}
	return h.completeSSO(c, target, inForce, &pending.Attempt, &pending.Identity, u.ID, false)
}

// refuseLinkWithSecondFactor refuses to link an identity of a domain only
// approved to an account with two-factor sign-in: its password, the only
// proof asked there, is not enough for such an account on its own, and a
// single sign-on session is never asked for a second factor.
func (h *Handlers) refuseLinkWithSecondFactor(c echo.Context, target *models.Tenant, email string) error {
	return h.failSSO(c, target, email, "existing account with two-factor sign-in, domain not proven by DNS", h.ssoFailure(target, http.StatusForbidden,
		"This account cannot be linked here",
		email+" already has a Canopy account with two-factor sign-in. Sign in with your password and second factor instead, or ask "+target.Name+"'s administrator: their domain needs a DNS record before single sign-on can take over existing accounts."))
}

// completeSSO links the identity to the account, makes them a member of
// the tenant if they are not yet one, and signs them in there: on this
// host, or on the tenant's own with a hand-off.
func (h *Handlers) completeSSO(c echo.Context, target *models.Tenant, inForce *models.SSOInForce, attempt *ssoAttempt, who *ssoIdentity, userID int64, created bool) error {
	rs := stateOf(c)
	// The verified ID token names the person and the connection in force
	// names the tenant: reasons the database cannot know.
	if err := h.scopeAs(c, models.Scope{UserID: userID}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := h.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.Status != models.UserActive {
		return h.failSSO(c, target, who.Email, "account disabled", h.ssoFailure(target, http.StatusForbidden,
			"This account cannot sign in", "Ask your administrator."))
	}
	linked, err := h.store.LinkIdentity(ctx, userID, who.Issuer, who.Subject, who.Email)
	if err != nil {
		return err
	}
	h.actAs(c, u)
	ctx = c.Request().Context()
	removed := false
	err = h.store.Within(ctx, models.Scope{TenantID: target.ID, UserID: userID}, func(ctx context.Context, tx *models.Store) error {
		if _, err := tx.MembershipOf(ctx, target.ID, userID); errors.Is(err, models.ErrNotFound) {
			if removed, err = tx.WasRemovedFrom(ctx, target.ID, userID); err != nil || removed {
				return err
			}
		} else if err != nil {
			return err
		}
		joined, err := tx.JoinThroughSSO(ctx, target.ID, userID, inForce.JoinRole)
		if err != nil {
			return err
		}
		if linked {
			err := tx.Audit(ctx, target.ID, models.AuditSSOIdentityLinked, models.AuditTarget{Type: "user", ID: userID, Label: u.Email}, nil,
				map[string]any{"issuer": who.Issuer, "subject": who.Subject, "new_account": created, "joined": joined})
			if err != nil {
				return err
			}
		}
		return tx.Audit(ctx, target.ID, models.AuditSignIn, models.AuditTarget{Type: "user", ID: userID, Label: u.Email}, nil,
			map[string]any{"method": "single sign-on", "issuer": who.Issuer})
	})
	if err != nil {
		return err
	}
	if removed {
		return h.failSSO(c, target, u.Email, "removed from the company", h.ssoFailure(target, http.StatusForbidden,
			"You are no longer a member of "+target.Name,
			"You were removed from "+target.Name+", or you left it. Single sign-on does not bring you back: someone there must add or invite you again."))
	}
	h.logFor(c).Info("signed in with single sign-on", "user", userID, "tenant", target.ID, "ip", c.RealIP())
	if target.ID != rs.tenant.ID {
		rec, err := h.startSessionRecord(c, u, models.SessionBySSO)
		if err != nil {
			return err
		}
		_, token := handoff.New(h.secrets.Handoff, u.ID, target.ID, rec.ID, attempt.Handoff, h.now())
		q := url.Values{"token": {token}}
		if attempt.Next != "" && attempt.Next != "/" {
			q.Set("next", attempt.Next)
		}
		if err := h.scopeRequest(c); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, h.cfg.TenantURL(target.Subdomain, "/auth/handoff")+"?"+q.Encode())
	}
	if err := h.signInWith(c, u, models.SessionBySSO); err != nil {
		return err
	}
	if err := h.loadMembership(c); err != nil {
		return err
	}
	been, err := h.store.EnterTenant(c.Request().Context(), u.ID, target.ID)
	if err != nil {
		return err
	}
	if !been {
		rs.session.Values[keyFirstVisit] = true
	}
	next := attempt.Next
	if next == "" || strings.HasPrefix(next, "/auth/") {
		next = "/"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// failSSO logs and audits a failed single sign-on in the log of the tenant
// it was for (with the email, when the identity provider got as far as
// naming one) and returns the page to show.
func (h *Handlers) failSSO(c echo.Context, t *models.Tenant, email, reason string, page *pageError) error {
	h.logFor(c).Info("single sign-on refused", "tenant", t.ID, "email", email, "reason", reason, "ip", c.RealIP())
	label := email
	if label == "" {
		label = "unknown person"
	}
	ctx := models.WithActor(c.Request().Context(), models.Actor{Email: email, IP: c.RealIP()})
	err := h.store.Within(ctx, models.Scope{TenantID: t.ID}, func(ctx context.Context, tx *models.Store) error {
		return tx.Audit(ctx, t.ID, models.AuditSignInFailed, models.AuditTarget{Type: "user", Label: label}, nil,
			map[string]any{"method": "single sign-on", "reason": reason})
	})
	if err != nil {
		return err
	}
	if page == nil {
		return nil
	}
	return page
}
