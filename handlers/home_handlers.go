package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// home is the tenant's Home page, with the side menu. Platform staff get
// the platform's figures instead (platformHome).
func (h *Handlers) home(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	if rs.tenant.IsPlatform() && rs.membership.Role.Can(models.PermManageSubTenants) {
		return h.platformHome(c)
	}
	setup, err := h.store.SetupOf(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	// The parent came with the host's tenant (resolveHost loads the tenants
	// above it), so naming it costs no statement.
	data := pages.HomeData{MemberCount: setup.Members, Setup: setup, FirstVisit: firstVisit(rs), Parent: rs.lineage.Parent()}
	return h.render(c, http.StatusOK, pages.Home(h.shell(c, "Home", "home"), data))
}

// platformHome is Home for the platform tenant's Super Admins: how many
// customer companies there are (active and inactive), their members and the
// invitations waiting for an answer. Other members of the platform tenant,
// who cannot open the Companies list, get the ordinary Home.
func (h *Handlers) platformHome(c echo.Context) error {
	rs := stateOf(c)
	figures, err := h.store.PlatformFigures(c.Request().Context(), rs.tenant.ID)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.PlatformHome(h.shell(c, "Home", "home"), figures, firstVisit(rs)))
}

// firstVisit tells whether this session began with the person's first entry
// into the company.
func firstVisit(rs *requestState) bool {
	first, _ := rs.session.Values[keyFirstVisit].(bool)
	return first
}
