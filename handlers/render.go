package handlers

import (
	"bytes"
	"fmt"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// render writes a templ component as the response: the one response builder
// every handler uses.
func (h *Handlers) render(c echo.Context, status int, component templ.Component) error {
	var buf bytes.Buffer
	if err := component.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// shell gathers what every layout needs about this request.
func (h *Handlers) shell(c echo.Context, title, nav string) views.Shell {
	rs := stateOf(c)
	s := views.Shell{
		Title:        title,
		CSRF:         h.csrfToken(c),
		Flashes:      h.takeFlashes(c),
		User:         rs.user,
		Tenant:       rs.tenant,
		Nav:          nav,
		SignOutPath:  "/logout",
		Theme:        themeOf(c),
		CookieDomain: h.cfg.BaseURL.Hostname(),
	}
	if rs.membership != nil {
		s.Role = rs.membership.Role
		s.Path = c.Request().URL.RequestURI()
		s.Companies, s.CompanyCount = h.companyToggle(c, rs.user, rs.tenant)
		for _, company := range s.Companies {
			if company.ID == rs.tenant.ID {
				s.OwnerEmail = company.OwnerEmail
			}
		}
	}
	s.HomeHref = h.cfg.BaseLink("/", nil)
	if rs.tenant != nil {
		s.TenantURL = h.cfg.TenantURL(rs.tenant.Subdomain, "/")
		s.TenantHost = rs.tenant.Subdomain + "." + h.hostname
		if rs.tenant.Active() {
			s.HomeHref = "/"
		}
	}
	return s
}

// themeOf is the theme this browser chose in the Account menu.
func themeOf(c echo.Context) views.Theme {
	cookie, err := c.Cookie(views.ThemeCookie)
	if err != nil {
		return views.ThemeSystem
	}
	return views.ParseTheme(cookie.Value)
}

func tenantInactivePage(h *Handlers, c echo.Context, t *models.Tenant) templ.Component {
	return pages.TenantInactive(h.shell(c, t.Name+" is inactive", ""), t.Name, h.cfg.BaseLink("/", nil))
}

// companyToggle lists the user's companies for the toggle, the current one
// first. A failed lookup is logged and leaves the toggle empty; on Postgres
// it also fails the request's transaction, so the page becomes an error page.
func (h *Handlers) companyToggle(c echo.Context, u *models.User, current *models.Tenant) ([]models.Company, int64) {
	list, total, err := h.store.CompanyToggle(c.Request().Context(), u.ID, current.ID)
	if err != nil {
		h.log.Warn("list companies for the toggle", "user", u.ID, "err", err)
	}
	return list, total
}
