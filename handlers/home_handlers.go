package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/views/pages"
)

// home is the tenant's Home page, with the side menu.
func (h *Handlers) home(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	setup, err := h.store.SetupOf(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	data := pages.HomeData{MemberCount: setup.Members, Setup: setup}
	data.FirstVisit, _ = rs.session.Values[keyFirstVisit].(bool)
	if rs.tenant.ParentID != nil {
		if data.Parent, err = h.store.TenantByID(ctx, *rs.tenant.ParentID); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, pages.Home(h.shell(c, "Home", "home"), data))
}
