package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"time"

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
	s := h.visitorShell(c, title)
	s.User, s.Tenant, s.Nav = rs.user, rs.tenant, nav
	if rs.user != nil {
		s.Path = c.Request().URL.RequestURI()
	}
	switch {
	case rs.membership != nil:
		s.Role = rs.membership.Role
		toggle := h.companyToggle(c, rs.user, rs.tenant)
		s.Companies, s.CompanyCount = toggle.Companies, toggle.Total
		for _, company := range s.Companies {
			if company.ID == rs.tenant.ID {
				s.OwnerEmail = company.OwnerEmail
			}
		}
		if toggle.Additions > 0 {
			s.Additions = h.additions(c, rs.user)
		}
	case rs.user != nil && rs.tenant == nil:
		s.Additions = h.additions(c, rs.user)
	}
	if rs.tenant != nil {
		s.Location = rs.tenant.Location()
		s.TenantURL = h.cfg.TenantURL(rs.tenant.Subdomain, "/")
		s.TenantHost = rs.tenant.Subdomain + "." + h.hostname
		if rs.lineage.Reachable() {
			s.HomeHref = "/"
		}
	}
	// The person's own time zone (Profile) wins over the company's.
	if rs.user != nil {
		if loc := rs.user.Location(); loc != nil {
			s.Location = loc
		}
	}
	return s
}

// visitorShell is what every page's layout needs whoever is looking: the
// page's title, the form token, flashes, the chosen theme, and times in UTC.
// It names no user, company or role; shell adds those.
func (h *Handlers) visitorShell(c echo.Context, title string) views.Shell {
	return views.Shell{
		Title:        title,
		CSRF:         h.csrfToken(c),
		Flashes:      h.takeFlashes(c),
		SignOutPath:  "/logout",
		Theme:        themeOf(c),
		CookieDomain: h.cfg.BaseURL.Hostname(),
		Location:     time.UTC,
		Now:          h.now(),
		HomeHref:     h.cfg.BaseLink("/", nil),
	}
}

// themeOf is the theme this browser chose in the Account menu.
func themeOf(c echo.Context) views.Theme {
	cookie, err := c.Cookie(views.ThemeCookie)
	if err != nil {
		return views.ThemeSystem
	}
	return views.ParseTheme(cookie.Value)
}

// tenantInactivePage is the page an inactive tenant's address shows: who
// can reactivate it (the company above it, named to its own members), and
// the visitor's other companies only when they have some. Nothing of the
// company is shown, not even whose session this is: the page is framed as
// for a visitor.
func (h *Handlers) tenantInactivePage(c echo.Context) (templ.Component, error) {
	rs := stateOf(c)
	ctx := c.Request().Context()
	t := rs.tenant
	d := pages.InactiveData{Company: models.InactiveCompany{Name: t.Name}, SignedIn: rs.user != nil, BaseHref: h.cfg.BaseLink("/", nil)}
	if rs.membership != nil {
		// The tree above a company is named only to its members.
		d.Company = rs.lineage.Unreachable()
	} else if rs.lineage.InactiveAbove() != nil {
		d.Company.BecauseAbove = true
	}
	if rs.user != nil {
		_, err := h.store.LandingTenant(ctx, rs.user)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
		d.OtherCompanies = err == nil
	}
	return pages.TenantInactive(h.visitorShell(c, d.Company.Heading()), d), nil
}

// additions are the notices of companies someone else added the user to,
// shown on every page of theirs: where they are a member (asked for only
// when the toggle counted some), and on the base domain, the places their
// Leave and Got it buttons work. A failed lookup is logged and shows none,
// as for the toggle.
func (h *Handlers) additions(c echo.Context, u *models.User) []models.Addition {
	list, err := h.store.UnacknowledgedAdditions(c.Request().Context(), u.ID)
	if err != nil {
		h.logFor(c).Warn("list additions to acknowledge", "user", u.ID, "err", err)
	}
	return list
}

// companyToggle lists the user's companies for the toggle, the current one
// first, and counts their notices of additions waiting. A failed lookup is
// logged and leaves the toggle empty; on Postgres it also fails the
// request's transaction, so the page becomes an error page.
func (h *Handlers) companyToggle(c echo.Context, u *models.User, current *models.Tenant) models.Toggle {
	if rs := stateOf(c); rs.toggle != nil && rs.toggle.forUser == u.ID && rs.toggle.current == current.ID {
		return rs.toggle.Toggle
	}
	toggle, err := h.store.CompanyToggle(c.Request().Context(), u.ID, current.ID)
	if err != nil {
		h.logFor(c).Warn("list companies for the toggle", "user", u.ID, "err", err)
	}
	return toggle
}
