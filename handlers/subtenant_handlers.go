package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// subTenants lists the current tenant's sub-tenants (under the platform
// tenant: the customer companies).
func (h *Handlers) subTenants(c echo.Context) error {
	rs := stateOf(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	page, err := h.store.SubTenants(c.Request().Context(), rs.tenant.ID, q, models.ParsePage(c.QueryParam("page"), models.SubTenantPageSize))
	if err != nil {
		return err
	}
	data := pages.SubTenantsData{Page: page, Query: q, Labels: pages.SubTenantLabelsFor(rs.tenant)}
	return h.render(c, http.StatusOK, pages.SubTenants(h.shell(c, data.Labels.Plural, "sub-tenants"), data))
}

// newSubTenantForm is the Create Sub-Tenant form; the timezone starts as the parent's.
func (h *Handlers) newSubTenantForm(c echo.Context) error {
	rs := stateOf(c)
	form := pages.SubTenantForm{Timezone: rs.tenant.Timezone}
	return h.renderSubTenantForm(c, http.StatusOK, form)
}

func (h *Handlers) renderSubTenantForm(c echo.Context, status int, form pages.SubTenantForm) error {
	rs := stateOf(c)
	form.Labels = pages.SubTenantLabelsFor(rs.tenant)
	form.BaseHost = h.hostname
	form.Scheme = h.cfg.BaseURL.Scheme
	return h.render(c, status, pages.NewSubTenant(h.shell(c, "Create "+form.Labels.Singular, "sub-tenants"), form))
}

// createSubTenant checks the form, asks for confirmation of the details that
// cannot be edited later, and only then creates the tenant and its owner.
func (h *Handlers) createSubTenant(c echo.Context) error {
	rs := stateOf(c)
	form := pages.SubTenantForm{
		Name:           c.FormValue("name"),
		Subdomain:      c.FormValue("subdomain"),
		Description:    c.FormValue("description"),
		Email:          c.FormValue("email"),
		Timezone:       c.FormValue("timezone"),
		BillingRollsUp: c.FormValue("billing_rolls_up") == "on",
	}
	n := models.NewSubTenant{
		ParentID: rs.tenant.ID, ActorUserID: rs.user.ID, Name: form.Name, Subdomain: form.Subdomain,
		Description: form.Description, Email: form.Email, Timezone: form.Timezone, BillingRollsUp: form.BillingRollsUp,
	}
	ctx := c.Request().Context()
	if c.FormValue("confirmed") != "yes" {
		err := h.store.ValidateSubTenant(ctx, &n)
		if fieldErrors(err, &form.Errors) {
			return h.renderSubTenantForm(c, http.StatusUnprocessableEntity, form)
		}
		if err != nil {
			return err
		}
		form.Name, form.Subdomain, form.Description, form.Email = n.Name, n.Subdomain, n.Description, n.Email
		form.Confirming = true
		return h.renderSubTenantForm(c, http.StatusOK, form)
	}
	t, outcome, err := h.store.CreateSubTenant(ctx, n, h.invitationMail(rs.tenant, rs.user))
	if fieldErrors(err, &form.Errors) {
		return h.renderSubTenantForm(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	h.log.Info("sub-tenant created", "parent", rs.tenant.ID, "tenant", t.ID, "by", rs.user.ID)
	msg := t.Name + " is active at " + h.cfg.TenantURL(t.Subdomain, "/") + "."
	if outcome == models.AddedAtOnce {
		msg += " " + n.Email + " already has an account and is its owner now; no email was needed."
	} else {
		msg += " An invitation to own it was emailed to " + n.Email + "."
	}
	h.flash(c, "success", msg)
	return c.Redirect(http.StatusSeeOther, "/sub-tenants")
}

// fieldErrors copies validation messages into dst and tells whether err was one.
func fieldErrors(err error, dst *map[string]string) bool {
	var fe models.FieldErrors
	if errors.As(err, &fe) {
		*dst = fe
		return true
	}
	return false
}

// subTenantParam is the sub-tenant named by the :id in the URL, which must be
// a child of the tenant whose host this is; anything else is a 404.
func (h *Handlers) subTenantParam(c echo.Context) (*models.Tenant, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	child, err := h.store.SubTenantOf(c.Request().Context(), stateOf(c).tenant.ID, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errNotFound
	}
	return child, err
}
