package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// companies lists every company the user belongs to, searchable and a page
// at a time: the toggle's "See all", and what its search asks when it lists
// only some. Choosing one switches company like the toggle does.
func (h *Handlers) companies(c echo.Context) error {
	rs := stateOf(c)
	query := strings.TrimSpace(c.QueryParam("q"))
	page := models.ParsePage(c.QueryParam("page"), models.CompanyPageSize)
	list, err := h.store.SearchCompanies(c.Request().Context(), rs.user.ID, query, page)
	if err != nil {
		return err
	}
	data := pages.CompaniesData{Page: list, Query: query, Next: sectionOf(c.QueryParam("next")), CurrentID: rs.tenant.ID}
	return h.render(c, http.StatusOK, pages.Companies(h.shell(c, "Your companies", ""), data))
}

// leaveCompany takes the signed-in person out of one of their companies, at
// their own request, from any company's address or the base domain: the
// Leave button of the Companies page, and Leave this company on the notice
// of having been added. The owner is refused (models.ErrOwnerCannotLeave).
// They land on their companies, or, having left the company whose address
// this is, on its Home, which now says they have no access here.
func (h *Handlers) leaveCompany(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.store.LeaveCompany(ctx, id, rs.user.ID); err != nil {
		return err
	}
	left, err := h.store.TenantByID(ctx, id)
	if err != nil {
		return err
	}
	h.logFor(c).Info("member left a company", "tenant", id, "user", rs.user.ID)
	h.flash(c, "success", "You left "+left.Name+" and no longer have access to it. To come back, someone there must add or invite you again.")
	switch {
	case rs.tenant != nil && rs.tenant.ID == id:
		return c.Redirect(http.StatusSeeOther, "/")
	case rs.tenant == nil || strings.HasPrefix(safeNext(c.FormValue("next")), views.AccountProfilePath):
		// Back to the page the form was on: the base domain's, or the profile.
		return c.Redirect(http.StatusSeeOther, returnTo(c.FormValue("next")))
	}
	return c.Redirect(http.StatusSeeOther, views.CompaniesPath)
}

// acknowledgeAddition records that the person saw the notice of being
// added to a company, which stops showing, and returns them to their page.
func (h *Handlers) acknowledgeAddition(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.store.AcknowledgeAddition(c.Request().Context(), id, stateOf(c).user.ID); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, returnTo(c.FormValue("next")))
}

// returnTo is the page a form came from, on this host, else Home.
func returnTo(next string) string {
	if next = safeNext(next); next != "" {
		return next
	}
	return "/"
}
