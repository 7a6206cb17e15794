package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/internal/handoff"
	"canopy/models"
	"canopy/views"
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
		inactive, err := h.store.InactiveCompaniesOf(c.Request().Context(), rs.user.ID)
		if err != nil {
			return err
		}
		title := "No companies yet"
		if len(inactive) > 0 {
			title = "No active company"
		}
		return h.render(c, http.StatusOK, pages.NoCompanies(h.shell(c, title, ""), inactive))
	}
	if err != nil {
		return err
	}
	return h.enterCompany(c, t.Subdomain, "", "")
}

// loginForm shows the sign-in page on the base domain. A user who is already
// signed in there goes straight on: signing in once is enough.
func (h *Handlers) loginForm(c echo.Context) error {
	rs := stateOf(c)
	subdomain := models.NormalizeSubdomain(c.QueryParam("tenant"))
	next := safeNext(c.QueryParam("next"))
	state := cleanState(c.QueryParam("state"))
	if rs.tenant != nil {
		return c.Redirect(http.StatusSeeOther, h.beginURL(rs.tenant.Subdomain, next))
	}
	if rs.user != nil {
		if subdomain != "" {
			return h.enterCompany(c, subdomain, next, state)
		}
		return h.sendToLandingCompany(c)
	}
	form := pages.LoginForm{Tenant: subdomain, Next: next, State: state, TenantName: h.tenantName(c, subdomain)}
	if _, _, err := h.offerSSO(c, &form); err != nil {
		return err
	}
	if c.QueryParam("signed_out") != "" {
		h.flash(c, "success", "You have been signed out.")
	}
	if c.QueryParam("joined") != "" && form.TenantName != "" {
		h.flash(c, "success", "You joined "+form.TenantName+". Sign in to continue.")
	}
	return h.render(c, http.StatusOK, pages.Login(h.shell(c, "Sign in", ""), form))
}

// login checks the credentials. Unknown email, wrong password and a disabled
// account get the same message. Attempts are throttled (signin_throttle.go):
// a browser the account signed in with before on its own, any other per
// account and per address; a success marks this browser as known.
func (h *Handlers) login(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	form := h.postedSignInForm(c)
	form.Email = models.NormalizeEmail(c.FormValue("email"))
	inForce, target, err := h.offerSSO(c, &form)
	if err != nil {
		return err
	}
	password := c.FormValue("password")
	// Email first: an address the company's single sign-on covers goes to
	// its identity provider when no password was typed.
	// A required domain goes there with or without a password, which is
	// not even checked: the answer must not tell whether it was right.
	// The company's owner alone keeps a password (break-glass).
	if inForce != nil && inForce.Covers(form.Email) && (password == "" || inForce.Required && !h.isOwnerEmail(c, target, form.Email)) {
		note := ""
		if password != "" {
			note = form.TenantName + " asks people at " + models.EmailDomain(form.Email) + " to sign in with single sign-on, not a password."
		}
		return h.render(c, http.StatusOK, pages.SSOContinue(h.shell(c, "Single sign-on", ""), form.TenantName, h.ssoStartURL(form.Tenant, form.Next, form.Email), note))
	}
	if form.Email == "" {
		form.Errors["email"] = "Enter your email address."
	}
	if password == "" {
		form.Errors["password"] = "Enter your password."
	}
	if len(form.Errors) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	devices := h.knownDevices(c)
	attempt, err := h.beginSignIn(c, form.Email, devices)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		h.logFor(c).Warn("sign-in refused: too many attempts", "email", form.Email, "ip", c.RealIP())
		form.Error = "Too many sign-in attempts. " + h.retryLater(c, attempt) +
			" A browser you have signed in with before can still sign in."
		return h.render(c, http.StatusTooManyRequests, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	u, err := h.store.Authenticate(c.Request().Context(), form.Email, password)
	if errors.Is(err, models.ErrBadCredentials) {
		// The 401 page is a client error: the request's transaction commits,
		// and the attempt stays counted.
		h.logFor(c).Info("sign-in refused", "email", form.Email, "ip", c.RealIP())
		if err := h.auditSignInFailed(c, form.Tenant, form.Email); err != nil {
			return err
		}
		form.Error = "The email or password is not correct."
		return h.render(c, http.StatusUnauthorized, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	if err != nil {
		return err
	}
	if err := h.store.AttemptSucceeded(c.Request().Context(), attempt); err != nil {
		return err
	}
	if u.TwoFactorEnabled {
		return h.askSecondFactor(c, u, form)
	}
	return h.completeSignIn(c, u, form.Tenant, form.Next, form.State, models.SessionByPassword)
}

// completeSignIn is the end of every sign-in on the base domain once
// each factor asked for was right: the session is the person's, the
// browser is remembered for the sign-in throttle, the sign-in is audited
// with its method, and the person goes on to the company the form named,
// or to their landing company.
func (h *Handlers) completeSignIn(c echo.Context, u *models.User, tenant, next, state string, method models.SessionMethod) error {
	if err := h.establishSignIn(c, u, tenant, method); err != nil {
		return err
	}
	return h.continueSignIn(c, tenant, next, state)
}

// establishSignIn is completeSignIn up to where the person goes next.
func (h *Handlers) establishSignIn(c echo.Context, u *models.User, tenant string, method models.SessionMethod) error {
	h.logFor(c).Info("signed in", "user", u.ID, "method", method, "ip", c.RealIP())
	devices := h.knownDevices(c)
	if err := h.signInWith(c, u, method); err != nil {
		return err
	}
	h.rememberDevice(c, u.Email, devices)
	return h.auditSignIn(c, tenant, u, method)
}

// continueSignIn sends a person just signed in on to the company the
// sign-in form named, or to their landing company.
func (h *Handlers) continueSignIn(c echo.Context, tenant, next, state string) error {
	if tenant == "" && strings.HasPrefix(next, "/account/") {
		// A page of the person's own on the base domain, such as the link
		// confirming a new email, which asked them to sign in first.
		return c.Redirect(http.StatusSeeOther, next)
	}
	if tenant != "" {
		return h.enterCompany(c, tenant, next, state)
	}
	return h.sendToLandingCompany(c)
}

// postedSignInForm reads what every sign-in form carries along: the
// company it was for, where to go next, and the hand-off's state.
func (h *Handlers) postedSignInForm(c echo.Context) pages.LoginForm {
	form := pages.LoginForm{
		Tenant: models.NormalizeSubdomain(c.FormValue("tenant")),
		Next:   safeNext(c.FormValue("next")),
		State:  cleanState(c.FormValue("state")),
		Errors: map[string]string{},
	}
	form.TenantName = h.tenantName(c, form.Tenant)
	return form
}

// isOwnerEmail tells whether email is the address of the tenant's owner.
func (h *Handlers) isOwnerEmail(c echo.Context, t *models.Tenant, email string) bool {
	if t.OwnerUserID == nil {
		return false
	}
	u, err := h.store.UserByEmail(c.Request().Context(), email)
	return err == nil && u.ID == *t.OwnerUserID
}

// ssoInForce is the single sign-on in force at a lineage's tenant, or nil.
func (h *Handlers) ssoInForce(ctx context.Context, lineage models.Lineage) (*models.SSOInForce, error) {
	inForce, err := h.store.SSOInForce(ctx, lineage)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	return inForce, err
}

// mustUseSSO tells whether u may not enter the company at subdomain with a
// password: its single sign-on is required for u's email domain, and u is
// not its owner, who keeps a password as the break-glass account.
func mustUseSSO(inForce *models.SSOInForce, u *models.User, t *models.Tenant) bool {
	return inForce.RequiredFor(u.Email) && (t.OwnerUserID == nil || *t.OwnerUserID != u.ID)
}

// offerSSO fills the sign-in form's single sign-on offer: the company's,
// when the form names one that has it in force, or on the bare base domain
// a way to name the company. It returns the company's connection, if any.
func (h *Handlers) offerSSO(c echo.Context, form *pages.LoginForm) (*models.SSOInForce, *models.Tenant, error) {
	if form.Tenant == "" {
		form.SSOURL = "/login/sso"
		return nil, nil, nil
	}
	lineage, err := h.store.LineageBySubdomain(c.Request().Context(), form.Tenant)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	inForce, err := h.ssoInForce(c.Request().Context(), lineage)
	if err != nil || inForce == nil {
		return nil, nil, err
	}
	form.SSOURL = h.ssoStartURL(form.Tenant, form.Next, "")
	if inForce.Required {
		form.SSONote = "People at " + strings.Join(inForce.Domains, ", ") + " sign in with single sign-on."
	}
	return inForce, lineage.Tenant(), nil
}

// ssoStartURL starts a company's single sign-on at its own host.
func (h *Handlers) ssoStartURL(subdomain, next, email string) string {
	q := url.Values{}
	if next = safeNext(next); next != "" && next != "/" {
		q.Set("next", next)
	}
	if email != "" {
		q.Set("email", email)
	}
	u := h.cfg.TenantURL(subdomain, "/auth/sso")
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// ssoCompany is "Sign in with SSO" on the bare base domain: it asks for the
// company's address and continues to its single sign-on.
func (h *Handlers) ssoCompany(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return c.Redirect(http.StatusSeeOther, "/auth/sso")
	}
	form := pages.SSOCompanyForm{Company: strings.TrimSpace(c.QueryParam("company")), Base: h.hostname}
	if form.Company == "" {
		if c.QueryParams().Has("company") {
			form.Error = "Enter your company's address."
			return h.render(c, http.StatusUnprocessableEntity, pages.SSOCompany(h.shell(c, "Sign in with SSO", ""), form))
		}
		return h.render(c, http.StatusOK, pages.SSOCompany(h.shell(c, "Sign in with SSO", ""), form))
	}
	sub := models.NormalizeSubdomain(strings.TrimSuffix(strings.TrimSuffix(form.Company, "."+h.hostname), "."+h.cfg.BaseURL.Hostname()))
	lineage, err := h.store.LineageBySubdomain(c.Request().Context(), sub)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	var inForce *models.SSOInForce
	if err == nil {
		if inForce, err = h.ssoInForce(c.Request().Context(), lineage); err != nil {
			return err
		}
	}
	if inForce == nil {
		// One answer for an unknown address and one without single sign-on:
		// the form is not a way to list companies.
		form.Error = "No company at this address signs in with single sign-on. Check the address, or sign in with your email and password."
		return h.render(c, http.StatusUnprocessableEntity, pages.SSOCompany(h.shell(c, "Sign in with SSO", ""), form))
	}
	return h.render(c, http.StatusOK, pages.SSOContinue(h.shell(c, "Single sign-on", ""), lineage.Tenant().Name, h.ssoStartURL(sub, "", ""), ""))
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

// logout ends this browser's session, on every address it entered, at
// once; the person's other browsers stay signed in (Account → Sessions ends
// those). Signing out to answer an invitation meant for another address
// ("Sign out and continue") goes on to that invitation.
func (h *Handlers) logout(c echo.Context) error {
	rs := stateOf(c)
	var who string
	if rs.user != nil {
		if err := h.endThisSession(c); err != nil {
			return err
		}
		who = rs.user.Email
	}
	h.resetSession(c)
	if next := safeNext(c.FormValue("next")); rs.tenant == nil && strings.HasPrefix(next, views.InvitationLinkPath("")) {
		if who != "" {
			h.flash(c, "success", "You have been signed out of "+who+".")
		}
		return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink(next, nil))
	}
	return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink("/login", url.Values{"signed_out": {"1"}}))
}

// goToCompany moves a signed-in user to another of their companies. The
// company's own host starts the hand-off, so the token it receives can be
// bound to this browser.
func (h *Handlers) goToCompany(c echo.Context) error {
	subdomain := models.NormalizeSubdomain(c.Param("subdomain"))
	if models.ValidateSubdomain(subdomain) != "" && subdomain != "admin" {
		return h.unknownCompany()
	}
	return c.Redirect(http.StatusSeeOther, h.beginURL(subdomain, sectionOf(c.QueryParam("next"))))
}

// switchSections are the pages every company has and every member may see:
// switching company from one of them lands on the same page there. From
// anywhere else (a record's page, an admin page) it lands on Home.
var switchSections = []string{views.OrdersPath, views.TemplatesPath, views.DevicesPath, views.TeamPath, views.CompanySettingsPath}

func sectionOf(next string) string {
	path, _, _ := strings.Cut(safeNext(next), "?")
	for _, section := range switchSections {
		if path == section {
			return section
		}
	}
	return ""
}

// beginHandoff runs on the company's own host before a hand-off: it gives
// the browser a short-lived random state in a host-only cookie and asks the
// base domain for a token bound to that state. A token minted for someone
// else's browser never matches, so nobody can send a link that signs you in
// as them.
func (h *Handlers) beginHandoff(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	q := url.Values{"tenant": {rs.tenant.Subdomain}, "state": {h.newHandoffState(c)}}
	if next := safeNext(c.QueryParam("next")); next != "" && next != "/" {
		q.Set("next", next)
	}
	return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink("/login", q))
}

// newHandoffState gives this browser a new hand-off state for this host and
// returns it. Path "/": browsers refuse a __Host- cookie with any other.
func (h *Handlers) newHandoffState(c echo.Context) string {
	state := handoff.NewState()
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: Secure whenever Canopy is served over https; a development server on http cannot set it
		Name: h.handoffCookieName(), Value: state, Path: "/", MaxAge: handoffStateMaxAge,
		HttpOnly: true, Secure: h.cfg.Secure(), SameSite: http.SameSiteLaxMode,
	})
	return state
}

// handoffStateMaxAge is how long a browser may take from asking to enter a
// company to arriving there, sign-in included.
const handoffStateMaxAge = 10 * 60

func (h *Handlers) handoffCookieName() string {
	if h.cfg.Secure() {
		return "__Host-canopy_handoff"
	}
	return "canopy_handoff"
}

// beginURL starts entering a company at its own host.
func (h *Handlers) beginURL(subdomain, next string) string {
	u := h.cfg.TenantURL(subdomain, "/auth/handoff/begin")
	if next = safeNext(next); next != "" && next != "/" {
		u += "?" + url.Values{"next": {next}}.Encode()
	}
	return u
}

// cleanState keeps a state value only if it looks like one we made.
func cleanState(s string) string {
	if len(s) == 0 || len(s) > 64 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return ""
	}
	return s
}

// enterCompany sends the signed-in user to a company's own subdomain with a
// hand-off token, after checking they may enter it. Without the company
// host's state for this browser, it first goes there to get one.
func (h *Handlers) enterCompany(c echo.Context, subdomain, next, state string) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	lineage, err := h.store.LineageBySubdomain(ctx, subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return h.unknownCompany()
	}
	if err != nil {
		return err
	}
	t := lineage.Tenant()
	if !lineage.Reachable() {
		// The company's own host explains; a redirect keeps a refresh from re-posting.
		return c.Redirect(http.StatusSeeOther, h.cfg.TenantURL(t.Subdomain, "/"))
	}
	if _, err := h.store.MembershipOf(ctx, t.ID, rs.user.ID); errors.Is(err, models.ErrNotFound) {
		return &pageError{status: http.StatusForbidden, heading: "You don't have access to " + t.Name,
			message: "You are signed in as " + rs.user.Email + ", who is not a member of this company.",
			href:    h.cfg.BaseLink("/", nil), label: "Go to my companies"}
	} else if err != nil {
		return err
	}
	if inForce, err := h.ssoInForce(ctx, lineage); err != nil {
		return err
	} else if inForce != nil && mustUseSSO(inForce, rs.user, t) {
		return &pageError{status: http.StatusForbidden, heading: t.Name + " uses single sign-on",
			message: t.Name + " asks people at " + models.EmailDomain(rs.user.Email) + " to sign in through their identity provider, not with a password.",
			href:    h.ssoStartURL(t.Subdomain, next, rs.user.Email), label: "Sign in with SSO"}
	}
	if state == "" {
		return c.Redirect(http.StatusSeeOther, h.beginURL(t.Subdomain, next))
	}
	_, token := handoff.New(h.secrets.Handoff, rs.user.ID, t.ID, h.sessionRecordID(c), state, h.now())
	q := url.Values{"token": {token}}
	if next = safeNext(next); next != "" && next != "/" {
		q.Set("next", next)
	}
	target := h.cfg.TenantURL(t.Subdomain, "/auth/handoff") + "?" + q.Encode()
	return c.Redirect(http.StatusSeeOther, target)
}

// redeemHandoff signs the user in on this tenant host from a hand-off token:
// valid signature, not expired, minted for this tenant in a session of the
// user's that still counts, and never used before. This host's session
// then names that same session record.
func (h *Handlers) redeemHandoff(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant == nil {
		return errNotFound
	}
	invalid := &pageError{status: http.StatusBadRequest, heading: "This sign-in link has expired",
		message: "Links that move you between companies work once and only for a minute. Continue to sign in again.",
		href:    h.beginURL(rs.tenant.Subdomain, c.QueryParam("next")), label: "Continue"}
	tok, err := handoff.Parse(h.secrets.Handoff, c.QueryParam("token"), h.now())
	if err != nil || tok.TenantID != rs.tenant.ID {
		return invalid
	}
	stateCookie, err := c.Cookie(h.handoffCookieName())
	if err != nil || !tok.MatchesState(stateCookie.Value) {
		h.logFor(c).Warn("hand-off refused: not minted for this browser", "tenant", rs.tenant.ID, "user", tok.UserID)
		invalid.heading = "This sign-in link is not for this browser"
		invalid.message = "Links that move you between companies only work in the browser that asked for them. Continue to sign in here."
		return invalid
	}
	// The token's signature names its user, a reason the database cannot
	// know: the request is scoped as them (alone, in no tenant yet) to read
	// their row, which is the scope signing them in sets anyway. A refusal
	// puts the visitor's own scope back before the page is shown.
	if err := h.scopeAs(c, models.Scope{UserID: tok.UserID}); err != nil {
		return err
	}
	u, _, err := h.store.UserBySession(c.Request().Context(), tok.UserID, tok.SessionID, h.now())
	if errors.Is(err, models.ErrNotFound) || err == nil && u.Status != models.UserActive {
		return h.refuseHandoff(c, invalid)
	}
	if err != nil {
		return err
	}
	if err := h.store.RedeemHandoff(c.Request().Context(), tok.ID, tok.ExpiresAt); errors.Is(err, models.ErrHandoffUsed) {
		invalid.heading = "This sign-in link was already used"
		return h.refuseHandoff(c, invalid)
	} else if err != nil {
		return err
	}
	if err := h.bindSession(c, u, tok.SessionID); err != nil {
		return err
	}
	if err := h.loadMembership(c); err != nil {
		return err
	}
	if rs.membership == nil {
		return h.authorize(c, models.PermView)
	}
	// Home greets someone here for the first time differently from someone
	// coming back, for as long as this session at this address lasts.
	been, err := h.store.EnterTenant(c.Request().Context(), u.ID, rs.tenant.ID)
	if err != nil {
		return err
	}
	if !been {
		rs.session.Values[keyFirstVisit] = true
	}
	h.actAs(c, u)
	if err := h.store.Audit(c.Request().Context(), rs.tenant.ID, models.AuditCompanyEntered, tenantTarget(rs.tenant), nil, nil); err != nil {
		return err
	}
	next := safeNext(c.QueryParam("next"))
	if next == "" || strings.HasPrefix(next, "/auth/") {
		next = "/"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// refuseHandoff shows why a hand-off failed, in the visitor's own scope.
func (h *Handlers) refuseHandoff(c echo.Context, refusal *pageError) error {
	if err := h.scopeRequest(c); err != nil {
		return err
	}
	return refusal
}

// auditSignInFailed records a refused sign-in on the company the person was
// signing in to, when the form named one and the email is one of its
// members; a sign-in on the bare base domain belongs to no company and is
// only logged. Strangers cannot write into a company's log, and the answer
// to the person is the same either way.
func (h *Handlers) auditSignInFailed(c echo.Context, subdomain, email string) error {
	if subdomain == "" {
		return nil
	}
	ctx := c.Request().Context()
	t, err := h.store.TenantBySubdomain(ctx, subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	u, err := h.store.UserByEmail(ctx, email)
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The base domain belongs to no company; the log is the company's.
	return h.store.Within(ctx, models.Scope{TenantID: t.ID}, func(ctx context.Context, tx *models.Store) error {
		if _, err := tx.MembershipOf(ctx, t.ID, u.ID); errors.Is(err, models.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		ctx = models.WithActor(ctx, models.Actor{Email: email, IP: c.RealIP()})
		return tx.Audit(ctx, t.ID, models.AuditSignInFailed, models.AuditTarget{Type: "user", Label: email}, nil, nil)
	})
}

// auditSignIn records a successful sign-in on the company the person lands
// in: the one the form named if they are a member, else their landing
// company. Someone with no company yet has nowhere to record it.
func (h *Handlers) auditSignIn(c echo.Context, subdomain string, u *models.User, method models.SessionMethod) error {
	h.actAs(c, u)
	ctx := c.Request().Context()
	var t *models.Tenant
	var err error
	if subdomain != "" {
		if t, err = h.store.TenantBySubdomain(ctx, subdomain); err == nil {
			_, err = h.store.MembershipOf(ctx, t.ID, u.ID)
		}
	} else {
		t, err = h.store.LandingTenant(ctx, u)
	}
	if errors.Is(err, models.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// A company that requires single sign-on of this person refuses their
	// password: the password signed them in elsewhere, not there.
	lineage, err := h.store.LineageByID(ctx, t.ID)
	if err != nil {
		return err
	}
	if inForce, err := h.ssoInForce(ctx, lineage); err != nil {
		return err
	} else if inForce != nil && mustUseSSO(inForce, u, t) {
		return nil
	}
	return h.store.Within(ctx, models.Scope{TenantID: t.ID, UserID: u.ID}, func(ctx context.Context, tx *models.Store) error {
		return tx.Audit(ctx, t.ID, models.AuditSignIn, models.AuditTarget{Type: "user", ID: u.ID, Label: u.Email}, nil, map[string]any{"method": method.Label()})
	})
}

func tenantTarget(t *models.Tenant) models.AuditTarget {
	return models.AuditTarget{Type: "tenant", ID: t.ID, Label: t.Name}
}
