package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"canopy/internal/apikey"
	"canopy/internal/config"
	"canopy/models"
	"canopy/views"
)

const (
	sessionMaxAge = int(models.SessionIdleLifetime / time.Second)
	keyUserID     = "uid"
	// keySessionID names the session record (models.UserSession) of the
	// signed-in browser, which every address it entered shares.
	keySessionID = "sid"
	keyHost      = "host"
	keyCSRF      = "csrf"
	keyRole      = "role" // the user's role at the session's host when last seen; noRole for none
	keyFlashes   = "_flash"
	// keyFirstVisit marks a session that began with its user's first entry
	// into its host's company.
	keyFirstVisit = "first"
	// keyUsedForms lists the last few one-time form tokens this session
	// sent (forms whose repeat must not act twice, such as a new API key's).
	keyUsedForms = "forms"
)

// noRole is what a session remembers when its user holds no membership of its host's tenant.
const noRole = "-"

// newCookieStore makes host-only (no Domain), HttpOnly, SameSite=Lax cookies,
// Secure and __Host- prefixed when Canopy is served over https.
func newCookieStore(cfg *config.Config, secrets *config.Secrets) *sessions.CookieStore {
	store := sessions.NewCookieStore(secrets.SessionHash, secrets.SessionBlock)
	store.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   sessionMaxAge,
		HttpOnly: true,
		Secure:   cfg.Secure(),
		SameSite: http.SameSiteLaxMode,
	}
	store.MaxAge(sessionMaxAge)
	for _, codec := range store.Codecs {
		if sc, ok := codec.(*securecookie.SecureCookie); ok {
			sc.SetSerializer(sessionSerializer{})
		}
	}
	return store
}

func (h *Handlers) cookieName() string {
	if h.cfg.Secure() {
		return "__Host-canopy_session"
	}
	return "canopy_session"
}

// loadSession reads the session cookie of this host and, when it names a
// user, loads that user and their membership of the host's tenant afresh.
// A cookie carried over from another host, or whose session record has
// ended (signed out, idle too long, or of an older session version), counts
// as no session at all.
func (h *Handlers) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rs := stateOf(c)
		sess := h.readSession(c.Request(), rs.host)
		frame, err := h.loadFrame(c, sess)
		if err != nil {
			return err
		}
		if rs.subdomain != "" {
			if len(frame.Lineage) == 0 {
				return h.unknownCompany()
			}
			h.enterTenant(rs, frame.Lineage)
		}
		rs.session = sess
		c.Response().Before(func() { h.saveSession(c) })

		if host, _ := sess.Values[keyHost].(string); host != rs.host {
			h.resetSession(c)
		}
		if _, ok := sess.Values[keyCSRF].(string); !ok {
			sess.Values[keyCSRF] = randomToken()
			rs.dirty = true
		}
		if err := h.useFrame(c, frame); err != nil {
			return err
		}
		return next(c)
	}
}

// loadFrame reads, in one statement, what the rest of loadSession decides
// from: the host's tenant (with the tenants above it), the user and session
// record sess names if it is this host's, and their membership there. The
// statement also sets the scope the request will most likely need — the
// tenant the subdomain had before (tenantHints) and the role the session
// saw last — so a member's request sets it once; useFrame corrects it when
// the frame shows otherwise.
func (h *Handlers) loadFrame(c echo.Context, sess *sessions.Session) (*models.Frame, error) {
	rs := stateOf(c)
	method := c.Request().Method
	q := models.FrameQuery{Subdomain: rs.subdomain, Now: h.now(), Toggle: method == http.MethodGet || method == http.MethodHead}
	if host, _ := sess.Values[keyHost].(string); host == rs.host {
		q.UserID, _ = sess.Values[keyUserID].(int64)
		q.SessionID, _ = sess.Values[keySessionID].(int64)
	}
	if q.UserID != 0 && q.SessionID != 0 {
		q.Scope.UserID = q.UserID
		seen, _ := sess.Values[keyRole].(string)
		role, err := models.ParseRole(seen)
		if hint, ok := h.tenantHints.Load(rs.subdomain); ok && err == nil && rs.subdomain != "" {
			q.Scope.TenantID, q.Scope.Subtree = hint.(int64), role.Can(models.PermManageSubTenants)
		}
	} else {
		q.UserID, q.SessionID = 0, 0
	}
	ctx, frame, err := h.store.LoadFrame(c.Request().Context(), q)
	if err != nil {
		return nil, err
	}
	c.SetRequest(c.Request().WithContext(ctx))
	return frame, nil
}

// frameToggle is the company toggle a frame read, for whom and with which
// company first: the shell uses it only for the same.
type frameToggle struct {
	models.Toggle
	forUser, current int64
}

// useFrame makes the frame's user, if their session record still counts,
// the request's user, and their membership of the host's tenant the
// request's; renews the session when their role there changed since it
// last looked; and scopes the request's queries to all that. A session
// whose record no longer counts is emptied. The record's activity is
// written at most every few minutes.
func (h *Handlers) useFrame(c echo.Context, frame *models.Frame) error {
	rs := stateOf(c)
	if uid, _ := rs.session.Values[keyUserID].(int64); uid != 0 {
		if frame.User == nil || frame.User.ID != uid || frame.User.Status != models.UserActive {
			h.resetSession(c)
		} else {
			rs.user, rs.signedInAt = frame.User, frame.Session.CreatedAt
			if err := h.store.NoteSessionSeen(c.Request().Context(), frame.Session, c.RealIP(), h.now()); err != nil {
				return err
			}
		}
	}
	rs.membership, rs.membershipLoaded = nil, false
	if rs.user != nil && rs.tenant != nil {
		rs.membership, rs.membershipLoaded = frame.Membership, true
		if frame.Toggle != nil {
			rs.toggle = &frameToggle{Toggle: *frame.Toggle, forUser: rs.user.ID, current: rs.tenant.ID}
		}
		if err := h.noteRole(c); err != nil {
			return err
		}
	}
	return h.scopeRequest(c)
}

// readSession is the session among the request's cookies of the session's
// name. A browser may send several: its own host-only cookie and one a
// sibling subdomain set for the parent domain, in either order, and
// gorilla/sessions would read only the first. So each is tried, and the
// one that verifies wins — one bound to this host before one of another —
// and a garbage cookie beside a good one cannot sign the person out. None
// that verifies (a rotated key, tampering) is a new, empty session.
func (h *Handlers) readSession(r *http.Request, host string) *sessions.Session {
	name := h.cookieName()
	// New never decodes here: the request it is given has no cookies.
	sess, _ := h.cookies.New(&http.Request{Header: http.Header{}}, name)
	var verified map[any]any
	for _, cookie := range r.CookiesNamed(name) {
		values := map[any]any{}
		if securecookie.DecodeMulti(name, cookie.Value, &values, h.cookies.Codecs...) != nil {
			continue
		}
		if bound, _ := values[keyHost].(string); bound == host {
			verified = values
			break
		}
		if verified == nil {
			verified = values
		}
	}
	if verified != nil {
		sess.Values, sess.IsNew = verified, false
	}
	return sess
}

// setActor puts who is acting — the signed-in user, if any, and the client's
// IP — in the request's context, once, for the audit log.
func (h *Handlers) setActor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h.actAs(c, stateOf(c).user)
		return next(c)
	}
}

// actAs makes u (nil for nobody) the request's actor, e.g. once a sign-in
// or a hand-off has identified them mid-request.
func (h *Handlers) actAs(c echo.Context, u *models.User) {
	actor := models.Actor{IP: c.RealIP()}
	if u != nil {
		actor.UserID, actor.Email = u.ID, u.Email
	}
	c.SetRequest(c.Request().WithContext(models.WithActor(c.Request().Context(), actor)))
}

// loadMembership loads the request's user's membership of the host's tenant
// and, when it differs from what the session last saw, renews the session.
func (h *Handlers) loadMembership(c echo.Context) error {
	rs := stateOf(c)
	rs.membership, rs.membershipLoaded = nil, false
	if rs.user == nil || rs.tenant == nil {
		return nil
	}
	m, err := h.store.MembershipOf(c.Request().Context(), rs.tenant.ID, rs.user.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if err == nil {
		rs.membership = m
	}
	rs.membershipLoaded = true
	if err := h.noteRole(c); err != nil {
		return err
	}
	return h.scopeRequest(c)
}

// noteRole remembers in the session the role its user holds at its host.
// When the role has changed since the session last saw it — raised,
// lowered, or the membership gone — the session is renewed as at sign-in
// (a new CSRF token, nothing else carried over but the user and any flash
// messages), so no form rendered under the old role can be submitted under
// the new one. The user stays signed in: a member works on with their new
// role, a former member is told plainly that they have no access.
func (h *Handlers) noteRole(c echo.Context) error {
	rs := stateOf(c)
	role := noRole
	if rs.membership != nil {
		role = string(rs.membership.Role)
	}
	seen, known := rs.session.Values[keyRole].(string)
	if known && seen == role {
		return nil
	}
	if known {
		h.logFor(c).Info("session renewed: role changed", "user", rs.user.ID, "tenant", rs.tenant.ID, "from", seen, "to", role)
		flashes, membership := rs.session.Values[keyFlashes], rs.membership
		if err := h.bindSession(c, rs.user, h.sessionRecordID(c)); err != nil {
			return err
		}
		rs.membership, rs.membershipLoaded = membership, true
		if flashes != nil {
			rs.session.Values[keyFlashes] = flashes
		}
	}
	rs.session.Values[keyRole] = role
	rs.dirty = true
	return nil
}

// forgetSessionChanges drops what the request did to the session — a
// sign-in, a flash announcing a change — when its transaction did not
// commit: the error page must not set a cookie for what did not happen.
func (h *Handlers) forgetSessionChanges(c echo.Context) {
	rs := stateOf(c)
	if rs.session == nil {
		return
	}
	rs.session, rs.dirty = h.readSession(c.Request(), rs.host), false
	rs.user, rs.membership, rs.membershipLoaded = nil, nil, false
}

// scopeRequest tells Postgres row-level security what the rest of the
// request may see: the signed-in user's own memberships and, for a member
// of the host's tenant, that tenant — with the tenants below it for those
// who manage them. Until the membership is loaded, the role the session saw
// last stands in for it, so a member's request sets its scope once; loading
// the membership corrects any difference. Nothing a handler says can widen it.
func (h *Handlers) scopeRequest(c echo.Context) error {
	var userID int64
	if u := stateOf(c).user; u != nil {
		userID = u.ID
	}
	return h.scopeRequestAs(c, userID)
}

// scopeRequestAs is scopeRequest for the user userID (0 for nobody), whom
// the request's state may not hold yet.
func (h *Handlers) scopeRequestAs(c echo.Context, userID int64) error {
	rs := stateOf(c)
	var scope models.Scope
	if userID != 0 {
		scope.UserID = userID
		if role, member := h.roleAtHost(rs); member && rs.tenant != nil {
			scope.TenantID = rs.tenant.ID
			scope.Subtree = role.Can(models.PermManageSubTenants)
		}
	}
	return h.scopeAs(c, scope)
}

// scopeAs makes scope what the rest of the request sees.
func (h *Handlers) scopeAs(c echo.Context, scope models.Scope) error {
	ctx, err := h.store.SetScope(c.Request().Context(), scope)
	if err != nil {
		return err
	}
	c.SetRequest(c.Request().WithContext(ctx))
	return nil
}

// roleAtHost is the user's role at the host: the membership's once it is
// loaded, before that the one the session remembers.
func (h *Handlers) roleAtHost(rs *requestState) (models.Role, bool) {
	if rs.membershipLoaded {
		if rs.membership == nil {
			return "", false
		}
		return rs.membership.Role, true
	}
	seen, _ := rs.session.Values[keyRole].(string)
	role, err := models.ParseRole(seen)
	return role, err == nil
}

// signIn signs u in with their password; see signInWith.
func (h *Handlers) signIn(c echo.Context, u *models.User) error {
	return h.signInWith(c, u, models.SessionByPassword)
}

// signInWith is every sign-in's end: u has proved who they are by method,
// so this browser gets a new session record and, on this host, a new
// session naming it (everything the old one held, its CSRF token included,
// is dropped). A session this browser had here before is ended first, on
// every address it had entered: a new sign-in replaces it.
func (h *Handlers) signInWith(c echo.Context, u *models.User, method models.SessionMethod) error {
	rs := stateOf(c)
	if previous := h.sessionRecordID(c); previous != 0 && rs.user != nil {
		err := h.store.EndSession(c.Request().Context(), rs.user.ID, previous)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
	}
	rec, err := h.startSessionRecord(c, u, method)
	if err != nil {
		return err
	}
	if err := h.bindSession(c, u, rec.ID); err != nil {
		return err
	}
	h.noteConfirmed(c)
	return nil
}

// startSessionRecord records this browser as signed in as u by method, in
// u's scope, and leaves the request scoped as u.
func (h *Handlers) startSessionRecord(c echo.Context, u *models.User, method models.SessionMethod) (*models.UserSession, error) {
	if err := h.scopeAs(c, models.Scope{UserID: u.ID}); err != nil {
		return nil, err
	}
	return h.store.StartSession(c.Request().Context(), u, models.SessionStart{
		Method: method, IP: c.RealIP(), UserAgent: c.Request().UserAgent(),
	}, h.now())
}

// bindSession gives this host a fresh session (a new CSRF token, nothing
// else carried over) for u in the session record sessionID: a new sign-in,
// a hand-off from another address of the same browser, or a renewal.
func (h *Handlers) bindSession(c echo.Context, u *models.User, sessionID int64) error {
	h.resetSession(c)
	rs := stateOf(c)
	rs.session.Values[keyUserID] = u.ID
	rs.session.Values[keySessionID] = sessionID
	rs.user = u
	return h.scopeRequest(c)
}

// sessionRecordID is the session record this host's session names, or 0.
func (h *Handlers) sessionRecordID(c echo.Context) int64 {
	rs := stateOf(c)
	if rs.session == nil {
		return 0
	}
	id, _ := rs.session.Values[keySessionID].(int64)
	return id
}

// resetSession empties the session, keeping it bound to this host.
func (h *Handlers) resetSession(c echo.Context) {
	rs := stateOf(c)
	rs.session.Values = map[any]any{keyHost: rs.host, keyCSRF: randomToken()}
	rs.user, rs.membership, rs.membershipLoaded = nil, nil, false
	rs.dirty = true
}

func (h *Handlers) saveSession(c echo.Context) {
	rs := stateOf(c)
	if rs.session == nil || !rs.dirty {
		return
	}
	if err := h.cookies.Save(c.Request(), c.Response().Writer, rs.session); err != nil {
		h.logFor(c).Error("save session", "err", err)
		return
	}
	// Saved once: a request that ran twice (inTransaction) has this hook
	// twice, and the second has nothing left to write.
	rs.dirty = false
}

// flash leaves a message for the next page this host shows.
func (h *Handlers) flash(c echo.Context, kind, message string) {
	rs := stateOf(c)
	rs.session.AddFlash(kind + "\x00" + message)
	rs.dirty = true
}

func (h *Handlers) takeFlashes(c echo.Context) []views.Flash {
	rs := stateOf(c)
	if rs.session == nil {
		return nil
	}
	raw := rs.session.Flashes()
	if len(raw) == 0 {
		return nil
	}
	rs.dirty = true
	out := make([]views.Flash, 0, len(raw))
	for _, r := range raw {
		s, _ := r.(string)
		kind, msg, _ := strings.Cut(s, "\x00")
		out = append(out, views.Flash{Kind: kind, Message: msg})
	}
	return out
}

// csrfToken is this session's token. It lives inside the signed, encrypted
// session cookie of this host only, so a sibling subdomain can neither read
// nor plant it (a planted cookie of its own fails the host binding).
func (h *Handlers) csrfToken(c echo.Context) string {
	rs := stateOf(c)
	if rs.session == nil {
		return ""
	}
	token, _ := rs.session.Values[keyCSRF].(string)
	return token
}

// checkCSRF refuses a state-changing request whose token does not match the session's.
func (h *Handlers) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		sent := c.Request().Header.Get("X-CSRF-Token")
		if sent == "" {
			sent = c.FormValue("_csrf")
		}
		want := h.csrfToken(c)
		if want == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(want)) != 1 {
			return &pageError{
				status:  http.StatusForbidden,
				heading: "This form has expired",
				message: "For your security, forms stop working after you sign in or out elsewhere. Go back, reload the page and try again.",
			}
		}
		return next(c)
	}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// loadAPIKey is loadSession's counterpart for the JSON API: the request is
// made by the API key in its Authorization header, which must be one of the
// host's company that still works. A missing, malformed (refused before any
// lookup), unknown, revoked or expired key, and a key of any other company
// — a sibling's, a parent's, a child's — get the same 401. The database
// scope is then the key's company alone, never the tenants below it, and
// the audit actor is the key. A session cookie counts for nothing here.
func (h *Handlers) loadAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rs := stateOf(c)
		if rs.tenant == nil {
			return errAPINotFound // the base domain has no API
		}
		scheme, token, _ := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return errAPIKeyInvalid
		}
		parsed, err := apikey.Parse(strings.TrimSpace(token))
		if err != nil {
			return errAPIKeyInvalid
		}
		// Finding the key needs to see the host's company's keys before the
		// request has a scope: the one moment the database cannot know why.
		var key *models.APIKey
		err = h.store.Within(c.Request().Context(), models.Scope{TenantID: rs.tenant.ID}, func(ctx context.Context, tx *models.Store) error {
			key, err = tx.APIKeyByHash(ctx, rs.tenant.ID, h.APIKeys.Hash(parsed))
			return err
		})
		if errors.Is(err, models.ErrNotFound) {
			return errAPIKeyInvalid
		}
		if err != nil {
			return err
		}
		rs.apiKey = key
		if err := h.scopeAs(c, models.Scope{TenantID: key.TenantID}); err != nil {
			return err
		}
		actor := models.Actor{Email: fmt.Sprintf("API key %q (%s)", key.Name, key.Masked()), IP: c.RealIP(), APIKeyID: key.ID}
		c.SetRequest(c.Request().WithContext(models.WithActor(c.Request().Context(), actor)))
		if !rs.lineage.Reachable() {
			return errAPICompanyInactive
		}
		if err := h.store.NoteAPIKeyUsed(c.Request().Context(), key); err != nil {
			return err
		}
		return next(c)
	}
}
