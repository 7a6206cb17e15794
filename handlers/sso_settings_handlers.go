package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// maxClientSecret bounds the client secret typed; providers issue tens of
// characters.
const maxClientSecret = 1000

// ssoSettings is Settings → Single sign-on.
func (h *Handlers) ssoSettings(c echo.Context) error {
	return h.renderSSOSettings(c, http.StatusOK, nil, nil)
}

// inheritsSSO tells whether the lineage's tenant follows the single sign-on
// of a tenant above it. A company directly below the platform has nothing
// to inherit, whatever its flag says (models.Lineage.SSOOwner).
func inheritsSSO(l models.Lineage) bool {
	return l.Tenant().SSOInherit && inheritableParent(l) != nil
}

// inheritableParent is the tenant above the lineage's tenant whose single
// sign-on it could follow: its parent, unless that is the platform.
func inheritableParent(l models.Lineage) *models.Tenant {
	if len(l) < 2 || l[1].IsPlatform() {
		return nil
	}
	return &l[1]
}

// renderSSOSettings shows the page; form is what was typed (nil: the saved
// connection as it is), test what Test connection found (nil: not asked).
func (h *Handlers) renderSSOSettings(c echo.Context, status int, form *pages.SSOForm, test *pages.SSOTestResult) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	d := pages.SSOSettingsData{
		Inherits:    inheritsSSO(rs.lineage),
		Parent:      inheritableParent(rs.lineage),
		RedirectURI: h.cfg.TenantURL(rs.tenant.Subdomain, views.SSOCallbackPath),
		Test:        test,
	}
	own, err := h.store.SSOConnectionOf(ctx, rs.tenant.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return err
	default:
		d.Own = own
	}
	if d.Inherits {
		if err := h.loadInheritedSSO(ctx, rs, &d); err != nil {
			return err
		}
		return h.render(c, status, pages.SSOSettings(h.shell(c, "Settings", "settings"), d))
	}
	switch {
	case form != nil:
		d.Form = *form
	case own != nil:
		d.Form = savedSSOForm(own)
	default:
		d.Form = pages.SSOForm{JoinRole: string(models.RoleViewer)}
	}
	if rs.tenant.OwnerUserID != nil {
		owner, err := h.store.UserByID(ctx, *rs.tenant.OwnerUserID)
		if err != nil {
			return err
		}
		d.OwnerName = owner.Name()
	}
	return h.render(c, status, pages.SSOSettings(h.shell(c, "Settings", "settings"), d))
}

// loadInheritedSSO fills in whose single sign-on the company follows and
// what it is. Its settings page is linked only for someone who manages
// them there: their own membership of that tenant, which row-level
// security shows them whichever host they are on.
func (h *Handlers) loadInheritedSSO(ctx context.Context, rs *requestState, d *pages.SSOSettingsData) error {
	d.Source = rs.lineage.SSOOwner()
	if d.Source == nil { // a lineage cut short: nothing above to follow
		d.Source = d.Parent
	}
	inForce, err := h.store.SSOInForce(ctx, rs.lineage)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return err
	default:
		d.InForce = inForce
	}
	m, err := h.store.MembershipOf(ctx, d.Source.ID, rs.user.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return err
	case m.Role.Can(models.PermManageSettings):
		d.SourceHref = h.cfg.TenantURL(d.Source.Subdomain, views.SSOSettingsPath)
	}
	return nil
}

// ssoSummary is what single sign-on is in force at the lineage's tenant,
// for a line beside its settings.
func (h *Handlers) ssoSummary(ctx context.Context, l models.Lineage) (pages.SSOSummary, error) {
	sum := pages.SSOSummary{Inherits: inheritsSSO(l)}
	if sum.Inherits {
		if sum.Source = l.SSOOwner(); sum.Source == nil {
			sum.Source = inheritableParent(l)
		}
	}
	inForce, err := h.store.SSOInForce(ctx, l)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return sum, err
	default:
		sum.InForce = inForce
	}
	return sum, nil
}

func savedSSOForm(c *models.SSOConnection) pages.SSOForm {
	domains := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		domains[i] = d.Domain
	}
	return pages.SSOForm{Issuer: c.Issuer, ClientID: c.ClientID, Domains: strings.Join(domains, "\n"), JoinRole: string(c.JoinRole), Required: c.Required}
}

// ssoFormOf reads the connection form as posted, without the secret.
func ssoFormOf(c echo.Context) pages.SSOForm {
	return pages.SSOForm{
		Issuer:   strings.TrimSpace(c.FormValue("issuer")),
		ClientID: strings.TrimSpace(c.FormValue("client_id")),
		Domains:  c.FormValue("domains"),
		JoinRole: c.FormValue("join_role"),
		Required: c.FormValue("required") == "on",
	}
}

// saveSSOSettings creates or changes the company's own connection. The
// client secret is sealed here, bound to the company, before the store
// sees it; a blank one keeps the secret saved. Nothing shows it again.
func (h *Handlers) saveSSOSettings(c echo.Context) error {
	rs := stateOf(c)
	form := ssoFormOf(c)
	secret := strings.TrimSpace(c.FormValue("client_secret"))
	if len(secret) > maxClientSecret {
		form.Errors = map[string]string{"client_secret": fmt.Sprintf("Use at most %d characters.", maxClientSecret)}
		return h.renderSSOSettings(c, http.StatusUnprocessableEntity, &form, nil)
	}
	in := models.SSOConnectionInput{Issuer: form.Issuer, ClientID: form.ClientID, Domains: form.Domains,
		JoinRole: models.Role(form.JoinRole), Required: form.Required}
	if secret != "" {
		in.SealedSecret = h.sealer.Seal(secret, models.SSOSecretBinding(rs.tenant.ID))
	}
	saved, err := h.store.SaveSSOConnection(c.Request().Context(), rs.tenant.ID, in)
	if fieldErrors(err, &form.Errors) {
		form.SecretDropped = secret != "" && form.Errors["client_secret"] == ""
		return h.renderSSOSettings(c, http.StatusUnprocessableEntity, &form, nil)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("single sign-on saved", "tenant", rs.tenant.ID, "issuer", saved.Issuer, "secret_changed", secret != "", "by", rs.user.ID)
	msg := "Single sign-on saved."
	if inheritsSSO(rs.lineage) {
		msg += " " + rs.tenant.Name + " still inherits, so it stays unused until you use your own instead."
	} else if waiting := unprovenDomains(saved); waiting > 0 {
		msg += " Add the TXT records below to your DNS: a domain signs people in only once it is proven."
	}
	h.flash(c, "success", msg)
	return c.Redirect(http.StatusSeeOther, views.SSOSettingsPath)
}

func unprovenDomains(c *models.SSOConnection) int {
	n := 0
	for _, d := range c.Domains {
		if !d.Proven() {
			n++
		}
	}
	return n
}

// testSSOConnection fetches the identity provider's discovery document and
// says on the page what works and what does not: for the issuer typed in
// the form when there is one (not yet saved), else for the saved one. The
// form comes back as it was typed, but for the secret.
func (h *Handlers) testSSOConnection(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	form := ssoFormOf(c)
	form.SecretDropped = c.FormValue("client_secret") != ""
	issuer := form.Issuer
	if issuer == "" {
		own, err := h.store.SSOConnectionOf(ctx, rs.tenant.ID)
		switch {
		case errors.Is(err, models.ErrNotFound):
		case err != nil:
			return err
		default:
			issuer = own.Issuer
		}
	}
	if msg := models.ValidateIssuer(issuer); msg != "" {
		form.Errors = map[string]string{"issuer": msg}
		return h.renderSSOSettings(c, http.StatusUnprocessableEntity, &form, nil)
	}
	found, problem := checkDiscovery(ctx, h.ssoProviders.transport, issuer)
	result := &pages.SSOTestResult{OK: problem == "", Message: problem}
	if result.OK {
		result.Message = fmt.Sprintf("The identity provider answers: %s, sign-in at %s. The client ID and secret are checked at the first sign-in.", found.Issuer, found.AuthURL)
	}
	return h.renderSSOSettings(c, http.StatusOK, &form, result)
}

// deleteSSOSettings removes the company's own connection.
func (h *Handlers) deleteSSOSettings(c echo.Context) error {
	rs := stateOf(c)
	err := h.store.DeleteSSOConnection(c.Request().Context(), rs.tenant.ID)
	if errors.Is(err, models.ErrNotFound) {
		return errNoSSOToRemove
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("single sign-on removed", "tenant", rs.tenant.ID, "by", rs.user.ID)
	h.flash(c, "success", "Single sign-on removed: it signs nobody in any more.")
	return c.Redirect(http.StatusSeeOther, views.SSOSettingsPath)
}

// errNoSSOToRemove answers a removal of nothing: removed already, from
// another tab or by another Admin, or never set up.
var errNoSSOToRemove = &pageError{status: http.StatusConflict, heading: "There is no single sign-on to remove",
	message: "This company has no single sign-on of its own: it was removed already, or never set up. Nothing was changed.",
	href:    views.SSOSettingsPath, label: "Back to single sign-on"}

// errNothingToInherit refuses inheritance to a company directly below the
// platform, whose single sign-on is never lent.
var errNothingToInherit = &pageError{status: http.StatusConflict, heading: "There is nothing to inherit",
	message: "This company is not part of another company, so it can only use its own single sign-on.",
	href:    views.SSOSettingsPath, label: "Back to single sign-on"}

// setSSOInheritance makes the company follow its parent's single sign-on
// (inherit=on) or use its own (inherit=off); its own connection stays
// saved either way.
func (h *Handlers) setSSOInheritance(c echo.Context) error {
	rs := stateOf(c)
	var inherit bool
	switch c.FormValue("inherit") {
	case "on":
		inherit = true
	case "off":
	default:
		return &pageError{status: http.StatusUnprocessableEntity, heading: "Choose whether to inherit",
			message: "Inherit the parent's single sign-on, or use your own.", href: views.SSOSettingsPath, label: "Back to single sign-on"}
	}
	parent := inheritableParent(rs.lineage)
	if inherit && parent == nil {
		return errNothingToInherit
	}
	if err := h.store.SetSSOInherit(c.Request().Context(), rs.tenant.ID, inherit); err != nil {
		return err
	}
	if inherit {
		h.flash(c, "success", rs.tenant.Name+" now follows "+parent.Name+"'s single sign-on. Its own connection stays saved, unused.")
	} else {
		h.flash(c, "success", rs.tenant.Name+" now uses its own single sign-on.")
	}
	return c.Redirect(http.StatusSeeOther, views.SSOSettingsPath)
}
