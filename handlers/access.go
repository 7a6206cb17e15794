package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"canopy/models"
)

// requestState is what the middleware learns about a request: which host,
// which tenant, who is signed in and their membership of that tenant.
type requestState struct {
	host       string         // the Host header, lowercased
	subdomain  string         // its label in front of the base domain, "" on the base domain
	tenant     *models.Tenant // nil on the bare base domain
	lineage    models.Lineage // the tenant and the tenants above it, which decide whether it can be entered
	user       *models.User
	membership *models.Membership
	// membershipLoaded: membership is known (nil meaning none), not yet to be
	// guessed from what the session last saw.
	membershipLoaded bool
	session          *sessions.Session
	dirty            bool // the session must be written back
	// signedInAt is when this browser's session began: its sign-in, on
	// whichever address of the browser's it happened.
	signedInAt time.Time
	// toggle is the company toggle the request's frame read with the rest
	// (on a GET of a member), which the page's shell shows.
	toggle *frameToggle
	// apiKey is the key a call of the JSON API authenticated with
	// (loadAPIKey); nil on every other request.
	apiKey *models.APIKey
}

const stateKey = "canopy.state"

func stateOf(c echo.Context) *requestState {
	if rs, ok := c.Get(stateKey).(*requestState); ok {
		return rs
	}
	rs := &requestState{}
	c.Set(stateKey, rs)
	return rs
}

// readHost checks a request's Host header: the base domain itself, or one
// subdomain label in front of it. Anything else — a deeper name, a foreign
// host — is a 404, never a redirect into somebody's data. Which tenant
// lives at the subdomain is for the next step: loadSession reads it with
// the rest of the request's frame, resolveHost on its own.
func (h *Handlers) readHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rs := stateOf(c)
		rs.host = strings.ToLower(c.Request().Host)
		sub, _, ok := splitHost(rs.host, h.hostname)
		if !ok {
			return h.unknownCompany()
		}
		rs.subdomain = sub
		return next(c)
	}
}

// resolveHost is readHost, then the tenant at the subdomain with the tenants
// above it, in one statement; an unknown subdomain is a 404. For the API,
// which has no session to read in the same statement. A tenant that cannot
// be entered, because it or one above it is inactive, is refused by the
// caller.
func (h *Handlers) resolveHost(next echo.HandlerFunc) echo.HandlerFunc {
	return h.readHost(func(c echo.Context) error {
		rs := stateOf(c)
		if rs.subdomain == "" {
			return next(c)
		}
		lineage, err := h.store.LineageBySubdomain(c.Request().Context(), rs.subdomain)
		if errors.Is(err, models.ErrNotFound) {
			return h.unknownCompany()
		}
		if err != nil {
			return err
		}
		h.enterTenant(rs, lineage)
		return next(c)
	})
}

// enterTenant makes lineage's tenant the request's, and remembers which
// tenant the subdomain is for the next request's scope (tenantHints).
func (h *Handlers) enterTenant(rs *requestState, lineage models.Lineage) {
	rs.tenant, rs.lineage = lineage.Tenant(), lineage
	// Written only when it changes: every request reads it, a store on each
	// would make them contend for it.
	if hint, ok := h.tenantHints.Load(rs.subdomain); !ok || hint.(int64) != rs.tenant.ID {
		h.tenantHints.Store(rs.subdomain, rs.tenant.ID)
	}
}

// refuseInactiveTenant shows, for every request but signing out to the
// address of a tenant that is inactive, or below an inactive one, a page
// saying so: which one is inactive, who can reactivate it and, to someone
// signed in here, the way to their other companies if they have any. It
// runs after loadSession, which only reads who is signed in.
func (h *Handlers) refuseInactiveTenant(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rs := stateOf(c)
		if rs.tenant == nil || rs.lineage.Reachable() || c.Path() == "/logout" {
			return next(c)
		}
		page, err := h.tenantInactivePage(c)
		if err != nil {
			return err
		}
		return h.render(c, http.StatusForbidden, page)
	}
}

// splitHost tells whether host is the base domain itself or one subdomain
// label in front of it, and which label.
func splitHost(host, base string) (sub string, isApex, ok bool) {
	if host == base {
		return "", true, true
	}
	sub, found := strings.CutSuffix(host, "."+base)
	if !found || sub == "" || len(sub) > 63 || strings.Contains(sub, ".") {
		return "", false, false
	}
	return sub, false, true
}

// unknownCompany is the 404 for an address no company lives at. Its way
// forward is the base domain, which is never a dead end.
func (h *Handlers) unknownCompany() *pageError {
	return &pageError{
		status:  http.StatusNotFound,
		heading: "There is no company at this address",
		message: "Check the address for typos. If you were sent this link, ask the sender for the right one.",
		href:    h.cfg.BaseLink("/", nil),
		label:   "Go to Canopy",
	}
}

// accessRule says who may call a route. It is recorded for every route so
// tests can walk the router and prove each one is covered.
type accessRule struct {
	public  bool              // anyone; the handler decides what to show
	account bool              // the signed-in person's own account: any member on a tenant host, anyone signed in on the base domain
	perm    models.Permission // for tenant routes: the permission a member needs
	// platform: the route exists only on the platform tenant's host, for
	// its members holding perm (platform staff's pages).
	platform bool
	// apiScope: a route of the JSON API, for an API key of the host's
	// company holding this scope (apiRoute).
	apiScope models.APIScope
}

// publicRoute registers a route whose handler does its own checks (sign-in
// and hand-off pages, which must work before anyone is signed in).
func (h *Handlers) publicRoute(g *echo.Group, method, path string, fn echo.HandlerFunc) {
	h.access[method+" "+path] = accessRule{public: true}
	g.Add(method, path, fn)
}

// tenantRoute registers a route that exists only on tenant hosts and needs a
// member holding perm.
func (h *Handlers) tenantRoute(g *echo.Group, method, path string, perm models.Permission, fn echo.HandlerFunc) {
	h.access[method+" "+path] = accessRule{perm: perm}
	g.Add(method, path, func(c echo.Context) error {
		if err := h.authorize(c, perm); err != nil {
			return err
		}
		return fn(c)
	})
}

// platformRoute registers a page of platform staff: it exists only on the
// platform tenant's host, for its members holding perm. Anywhere else it
// is a 404, as an address with no page is, whoever asks: a company's Super
// Admins hold the permission in their own company, and must not be told
// the page exists elsewhere by a 403.
func (h *Handlers) platformRoute(g *echo.Group, method, path string, perm models.Permission, fn echo.HandlerFunc) {
	h.access[method+" "+path] = accessRule{perm: perm, platform: true}
	g.Add(method, path, func(c echo.Context) error {
		if t := stateOf(c).tenant; t == nil || !t.IsPlatform() {
			return errNotFound
		}
		if err := h.authorize(c, perm); err != nil {
			return err
		}
		return fn(c)
	})
}

// accountRoute registers a page of the signed-in person's own account. It
// exists on every host: on a tenant host for any of its members, like Home,
// and on the base domain for anyone signed in, so that a person with no
// active company can reach it too.
func (h *Handlers) accountRoute(g *echo.Group, method, path string, fn echo.HandlerFunc) {
	h.access[method+" "+path] = accessRule{account: true, perm: models.PermView}
	g.Add(method, path, func(c echo.Context) error {
		if err := h.authorizeAccount(c); err != nil {
			return err
		}
		return fn(c)
	})
}

// authorizeAccount lets the signed-in person at their own account: on a
// tenant host only as one of its members; on the base domain when signed in.
func (h *Handlers) authorizeAccount(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return h.authorize(c, models.PermView)
	}
	if rs.user != nil {
		return nil
	}
	if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead {
		return &redirectError{url: h.loginURL("", "")}
	}
	return &pageError{status: http.StatusUnauthorized, heading: "Please sign in again",
		message: "Your session has ended. Sign in and try again.", href: h.loginURL("", ""), label: "Sign in"}
}

// authorize is the one gate in front of tenant data: the request must be on
// a tenant host, by a signed-in member of that tenant whose role holds perm
// in the role matrix.
func (h *Handlers) authorize(c echo.Context, perm models.Permission) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	if rs.user == nil {
		if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead {
			return &redirectError{url: h.beginURL(rs.tenant.Subdomain, c.Request().URL.RequestURI())}
		}
		return &pageError{status: http.StatusUnauthorized, heading: "Please sign in again",
			message: "Your session has ended. Sign in and try again.", href: h.beginURL(rs.tenant.Subdomain, ""), label: "Sign in"}
	}
	if rs.membership == nil {
		return &pageError{status: http.StatusForbidden, heading: "You don't have access to " + rs.tenant.Name,
			message: "You are signed in as " + rs.user.Email + ", who is not a member of this company. Ask one of its administrators to invite you.",
			href:    h.cfg.BaseLink("/", nil), label: "Go to my companies"}
	}
	if !rs.membership.Role.Can(perm) {
		return &pageError{status: http.StatusForbidden, heading: "You don't have permission to do that",
			message: "Your role in " + rs.tenant.Name + " is " + rs.membership.Role.Label() + ". Ask an administrator if you need more access.",
			href:    "/", label: "Back to Home"}
	}
	return nil
}

// loginURL is the sign-in page on the base domain, continuing to a tenant.
func (h *Handlers) loginURL(subdomain, next string) string {
	q := url.Values{}
	if subdomain != "" {
		q.Set("tenant", subdomain)
	}
	if next = safeNext(next); next != "" && next != "/" {
		q.Set("next", next)
	}
	return h.cfg.BaseLink("/login", q)
}

// safeNext keeps only a path on the same host: "/x?y". Anything that could
// leave the site ("//evil.example", "https://…", "/\evil") becomes "".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return u.RequestURI()
}
