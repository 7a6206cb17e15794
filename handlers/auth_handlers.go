package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/internal/handoff"
	"canopy/models"
	"canopy/views/pages"
)

// root is "/": Home on a tenant host; on the base domain, sign-in for a
// visitor and the last company for a signed-in user.
func (h *Handlers) root(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		if err := h.authorize(c, models.PermView); err != nil {
			return err
		}
		return h.home(c)
	}
	if rs.user == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return h.sendToLandingCompany(c)
}

func (h *Handlers) sendToLandingCompany(c echo.Context) error {
	rs := stateOf(c)
	t, err := h.store.LandingTenant(c.Request().Context(), rs.user)
	if errors.Is(err, models.ErrNotFound) {
		return h.render(c, http.StatusOK, pages.NoCompanies(h.shell(c, "No companies yet", "")))
	}
	if err != nil {
		return err
	}
	return h.enterCompany(c, t.Subdomain, "")
}

// loginForm shows the sign-in page on the base domain. A user who is already
// signed in there goes straight on: signing in once is enough.
func (h *Handlers) loginForm(c echo.Context) error {
	rs := stateOf(c)
	subdomain := models.NormalizeSubdomain(c.QueryParam("tenant"))
	next := safeNext(c.QueryParam("next"))
	if rs.tenant != nil {
		return c.Redirect(http.StatusSeeOther, h.loginURL(rs.tenant.Subdomain, next))
	}
	if rs.user != nil {
		if subdomain != "" {
			return h.enterCompany(c, subdomain, next)
		}
		return h.sendToLandingCompany(c)
	}
	form := pages.LoginForm{Tenant: subdomain, Next: next, TenantName: h.tenantName(c, subdomain)}
	if c.QueryParam("signed_out") != "" {
		h.flash(c, "success", "You have been signed out.")
	}
	if c.QueryParam("joined") != "" && form.TenantName != "" {
		h.flash(c, "success", "You joined "+form.TenantName+". Sign in to continue.")
	}
	return h.render(c, http.StatusOK, pages.Login(h.shell(c, "Sign in", ""), form))
}

// login checks the credentials. Unknown email, wrong password and a disabled
// account get the same message; attempts are limited per IP and per email.
func (h *Handlers) login(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	form := pages.LoginForm{
		Email:  models.NormalizeEmail(c.FormValue("email")),
		Tenant: models.NormalizeSubdomain(c.FormValue("tenant")),
		Next:   safeNext(c.FormValue("next")),
		Errors: map[string]string{},
	}
	form.TenantName = h.tenantName(c, form.Tenant)
	password := c.FormValue("password")
	if form.Email == "" {
		form.Errors["email"] = "Enter your email address."
	}
	if password == "" {
		form.Errors["password"] = "Enter your password."
	}
	if len(form.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	if !h.limiter.allow(c.RealIP(), form.Email, h.now()) {
		form.Error = "Too many sign-in attempts. Wait a minute, then try again."
		return h.render(c, http.StatusTooManyRequests, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	u, err := h.store.Authenticate(c.Request().Context(), form.Email, password)
	if errors.Is(err, models.ErrBadCredentials) {
		h.log.Info("sign-in refused", "email", form.Email, "ip", c.RealIP())
		form.Error = "The email or password is not correct."
		return h.render(c, http.StatusUnauthorized, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	if err != nil {
		return err
	}
	h.log.Info("signed in", "user", u.ID, "ip", c.RealIP())
	h.signIn(c, u)
	if form.Tenant != "" {
		return h.enterCompany(c, form.Tenant, form.Next)
	}
	return h.sendToLandingCompany(c)
}

func (h *Handlers) tenantName(c echo.Context, subdomain string) string {
	if subdomain == "" {
		return ""
	}
	t, err := h.store.TenantBySubdomain(c.Request().Context(), subdomain)
	if err != nil || !t.Active() {
		return ""
	}
	return t.Name
}

// logout ends every session of the user, on every host, at once.
func (h *Handlers) logout(c echo.Context) error {
	rs := stateOf(c)
	if rs.user != nil {
		if err := h.store.EndAllSessions(c.Request().Context(), rs.user.ID); err != nil {
			return err
		}
		h.log.Info("signed out", "user", rs.user.ID)
	}
	h.resetSession(c)
	return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink("/login", url.Values{"signed_out": {"1"}}))
}

// goToCompany moves a signed-in user to another of their companies.
func (h *Handlers) goToCompany(c echo.Context) error {
	rs := stateOf(c)
	subdomain := models.NormalizeSubdomain(c.Param("subdomain"))
	if rs.user == nil {
		return c.Redirect(http.StatusSeeOther, h.loginURL(subdomain, ""))
	}
	return h.enterCompany(c, subdomain, safeNext(c.QueryParam("next")))
}

// enterCompany sends the signed-in user to a company's own subdomain with a
// hand-off token, after checking they may enter it.
func (h *Handlers) enterCompany(c echo.Context, subdomain, next string) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	t, err := h.store.TenantBySubdomain(ctx, subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return h.unknownCompany()
	}
	if err != nil {
		return err
	}
	if !t.Active() {
		return h.render(c, http.StatusForbidden, tenantInactivePage(h, c, t))
	}
	if _, err := h.store.MembershipOf(ctx, t.ID, rs.user.ID); errors.Is(err, models.ErrNotFound) {
		return &pageError{status: http.StatusForbidden, heading: "You don't have access to " + t.Name,
			message: "You are signed in as " + rs.user.Email + ", who is not a member of this company.",
			href:    h.cfg.BaseLink("/", nil), label: "Go to my companies"}
	} else if err != nil {
		return err
	}
	_, token := handoff.New(h.secrets.Handoff, rs.user.ID, t.ID, rs.user.SessionVersion, h.now())
	q := url.Values{"token": {token}}
	if next = safeNext(next); next != "" && next != "/" {
		q.Set("next", next)
	}
	target := h.cfg.TenantURL(t.Subdomain, "/auth/handoff") + "?" + q.Encode()
	return c.Redirect(http.StatusSeeOther, target)
}

// redeemHandoff signs the user in on this tenant host from a hand-off token:
// valid signature, not expired, minted for this tenant and the user's current
// session version, and never used before.
func (h *Handlers) redeemHandoff(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	ctx := c.Request().Context()
	invalid := &pageError{status: http.StatusBadRequest, heading: "This sign-in link has expired",
		message: "Links that move you between companies work once and only for a minute. Continue to sign in again.",
		href:    h.loginURL(rs.tenant.Subdomain, c.QueryParam("next")), label: "Continue"}
	tok, err := handoff.Parse(h.secrets.Handoff, c.QueryParam("token"), h.now())
	if err != nil || tok.TenantID != rs.tenant.ID {
		return invalid
	}
	u, err := h.store.UserByID(ctx, tok.UserID)
	if errors.Is(err, models.ErrNotFound) || err == nil && (u.SessionVersion != tok.SessionVersion || u.Status != models.UserActive) {
		return invalid
	}
	if err != nil {
		return err
	}
	if err := h.store.RedeemHandoff(ctx, tok.ID, tok.ExpiresAt); errors.Is(err, models.ErrHandoffUsed) {
		invalid.heading = "This sign-in link was already used"
		return invalid
	} else if err != nil {
		return err
	}
	h.signIn(c, u)
	if err := h.loadUser(c); err != nil {
		return err
	}
	if rs.membership == nil {
		return h.authorize(c, models.PermView)
	}
	if err := h.store.RememberLastTenant(ctx, u.ID, rs.tenant.ID); err != nil {
		return err
	}
	next := safeNext(c.QueryParam("next"))
	if next == "" || strings.HasPrefix(next, "/auth/") {
		next = "/"
	}
	return c.Redirect(http.StatusSeeOther, next)
}
