package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
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
