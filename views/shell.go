package views

import (
	"canopy/models"
	"time"
)

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // "success", "error" or "info"
	Message string
}

// Shell is what the layouts need to know about the request: who is signed
// in, in which tenant, with which role, and the page's CSRF token.
type Shell struct {
	Title        string
	CSRF         string
	Flashes      []Flash
	User         *models.User
	Tenant       *models.Tenant   // nil on the bare base domain
	Role         models.Role      // the user's role in Tenant; "" when not a member
	Nav          string           // which side-menu entry is current
	TenantURL    string           // the current tenant's address, from configuration
	TenantHost   string           // the same address without the scheme, for display
	HomeHref     string           // where the logo leads: this company's Home, or the base domain
	OwnerEmail   string           // the current company's owner, for the company tile
	Companies    []models.Company // the toggle's companies: the current one first, then up to models.ToggleSize
	CompanyCount int64            // how many active companies the user has in all
	Path         string           // the current page's path and query, kept when switching company
	// Additions are the companies someone else added the user to, not yet
	// acknowledged: every page tells them, with a way to leave.
	Additions    []models.Addition
	SignOutPath  string
	Theme        Theme  // the colour scheme chosen in the Account menu; ThemeSystem follows the system
	CookieDomain string // the base domain's host name: the theme cookie is set there, so every company's address shares it
	// Location is the time zone every time on the page is shown in: the
	// company's whose address this is (UTC on the base domain).
	Location *time.Location
	Now      time.Time // when the page is made, for "3 minutes ago"
}

// Time writes t the one way Canopy shows a moment, in the page's time zone.
func (s Shell) Time(t time.Time) string { return FormatTime(t, s.Location) }

// Ago says how long ago t was, for recent activity; Time is the exact moment.
func (s Shell) Ago(t time.Time) string { return Ago(t, s.Now, s.Location) }

// Theme is a colour scheme chosen in the Account menu, remembered per browser
// in the ThemeCookie on the base domain.
type Theme string

// The themes. ThemeSystem, the default, follows the system's preference.
const (
	ThemeSystem Theme = ""
	ThemeLight  Theme = "light"
	ThemeDark   Theme = "dark"
)

// ThemeCookie holds the chosen theme; app.js sets it, the server reads it.
const ThemeCookie = "canopy_theme"

// ParseTheme reads the theme cookie's value; anything but light or dark is
// the system's.
func ParseTheme(value string) Theme {
	switch t := Theme(value); t {
	case ThemeLight, ThemeDark:
		return t
	}
	return ThemeSystem
}

// ColorSchemes is the color-scheme meta tag's content: the schemes the page
// may be shown in.
func (t Theme) ColorSchemes() string {
	if t == ThemeSystem {
		return "light dark"
	}
	return string(t)
}

// SomeCompanies tells whether the toggle lists only some of the user's
// companies, so that its search asks the server and a link leads to all.
func (s Shell) SomeCompanies() bool { return s.CompanyCount > int64(len(s.Companies)) }

// HasToggle tells whether the side menu shows the company toggle: only to
// someone with another company to switch to.
func (s Shell) HasToggle() bool { return s.Tenant != nil && s.CompanyCount > 1 }

// Can tells whether the signed-in member may do something in this tenant.
func (s Shell) Can(p models.Permission) bool { return s.Role.Can(p) }

// InTenant tells whether the page is shown inside a tenant the user belongs to,
// which is when the side menu makes sense.
func (s Shell) InTenant() bool { return s.Tenant != nil && s.User != nil && s.Role != "" }

// DocumentTitle is the browser tab's title.
func (s Shell) DocumentTitle() string {
	switch {
	case s.Title != "" && s.Tenant != nil:
		return s.Title + " · " + s.Tenant.Name + " · Canopy"
	case s.Title != "":
		return s.Title + " · Canopy"
	}
	return "Canopy"
}

// SubTenantsLabel names the current tenant's children: under the platform
// they are the customer companies, below it sub-tenants.
func (s Shell) SubTenantsLabel() string {
	if s.Tenant != nil && s.Tenant.IsPlatform() {
		return "Companies"
	}
	return "Sub-Tenants"
}
