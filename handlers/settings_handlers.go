package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// companySettings is Settings → Company: the fixed details, the timezone,
// and how SSO and solutions stand.
func (h *Handlers) companySettings(c echo.Context) error {
	rs := stateOf(c)
	return h.renderCompanySettings(c, http.StatusOK, pages.CompanySettingsForm{Timezone: rs.tenant.Timezone})
}

func (h *Handlers) renderCompanySettings(c echo.Context, status int, form pages.CompanySettingsForm) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	solutions, err := h.store.SolutionsOf(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	form.Solutions = solutions
	// The parent is the lineage's second tenant, loaded with the host.
	if len(rs.lineage) > 1 {
		form.Parent = &rs.lineage[1]
	}
	if form.SSO, err = h.ssoSummary(ctx, rs.lineage); err != nil {
		return err
	}
	if rs.membership.Role.Can(models.PermManageSettings) {
		if form.WithoutTwoFactor, err = h.store.MembersWithoutTwoFactor(ctx, rs.tenant.ID); err != nil {
			return err
		}
	}
	return h.render(c, status, pages.CompanySettings(h.shell(c, "Settings", "settings"), form))
}

// saveCompanySettings changes the timezone; nothing else on the page is editable.
func (h *Handlers) saveCompanySettings(c echo.Context) error {
	rs := stateOf(c)
	form := pages.CompanySettingsForm{Timezone: c.FormValue("timezone")}
	err := h.store.SetTenantTimezone(c.Request().Context(), rs.tenant.ID, form.Timezone)
	if fieldErrors(err, &form.Errors) {
		return h.renderCompanySettings(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Settings saved. Times are now shown in "+form.Timezone+".")
	return c.Redirect(http.StatusSeeOther, views.CompanySettingsPath)
}

// saveTwoFactorRule changes whether the company requires its members to
// sign in with a second factor; the store audits it as a settings change.
func (h *Handlers) saveTwoFactorRule(c echo.Context) error {
	rs := stateOf(c)
	on := c.FormValue("require_two_factor") == "on"
	if err := h.store.SetRequireTwoFactor(c.Request().Context(), rs.tenant.ID, on); err != nil {
		return err
	}
	message := "Two-factor sign-in is no longer required."
	if on {
		message = "Two-factor sign-in is now required: members without it are asked to set it up before they continue."
	}
	h.flash(c, "success", message)
	return c.Redirect(http.StatusSeeOther, views.CompanySettingsPath)
}

// subdomainCheck answers the Create form as the subdomain is typed: whether
// it is well-formed and free. The unique index still decides at creation.
func (h *Handlers) subdomainCheck(c echo.Context) error {
	sub := models.NormalizeSubdomain(c.QueryParam("subdomain"))
	msg := models.ValidateSubdomain(sub)
	if msg == "" {
		if _, err := h.store.TenantBySubdomain(c.Request().Context(), sub); err == nil {
			msg = "This subdomain is already taken. Choose another."
		}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"subdomain": sub, "available": msg == "", "message": msg})
}
