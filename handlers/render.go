package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// pageError is an error a person should see explained, with one way forward.
// Handlers return it; handleError renders it inside the right layout.
type pageError struct {
	status  int
	heading string
	message string
	href    string
	label   string
}

func (e *pageError) Error() string { return fmt.Sprintf("%d %s", e.status, e.heading) }

// redirectTo stops a request and sends the browser elsewhere, e.g. to sign in.
// It is an error so that a gate such as authorize ends the handler.
type redirectTo struct{ url string }

func (r *redirectTo) Error() string { return "redirect to " + r.url }

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
		Title:       title,
		CSRF:        h.csrfToken(c),
		Flashes:     h.takeFlashes(c),
		User:        rs.user,
		Tenant:      rs.tenant,
		Nav:         nav,
		SignOutPath: "/logout",
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

// handleError turns any error into a page: a pageError as itself, Echo's own
// errors (unknown route, wrong method) by their status, anything else as a
// logged 500 that shows no internals.
func (h *Handlers) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var redirect *redirectTo
	if errors.As(err, &redirect) {
		_ = c.Redirect(http.StatusSeeOther, redirect.url)
		return
	}
	var pe *pageError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &he):
		pe = pageErrorForStatus(he.Code)
	default:
		h.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		pe = pageErrorForStatus(http.StatusInternalServerError)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(pe.status)
		return
	}
	page := pages.Error(h.shell(c, pe.heading, ""), pages.ErrorPage{
		Status: pe.status, Heading: pe.heading, Message: pe.message, ActionHref: pe.href, ActionLabel: pe.label,
	})
	if rerr := h.render(c, pe.status, page); rerr != nil {
		h.log.Error("render error page", "err", rerr)
		_ = c.String(pe.status, pe.heading)
	}
}

func pageErrorForStatus(code int) *pageError {
	switch code {
	case http.StatusNotFound:
		return errNotFound
	case http.StatusMethodNotAllowed:
		return &pageError{status: code, heading: "That action is not available here",
			message: "The page does not accept this kind of request.", href: "/", label: "Go home"}
	case http.StatusRequestEntityTooLarge:
		return &pageError{status: code, heading: "That upload is too large", message: "Send a smaller file or form."}
	case http.StatusForbidden:
		return &pageError{status: code, heading: "You don't have permission to do that", message: "Ask an administrator if you need more access.", href: "/", label: "Go home"}
	}
	if code >= 500 {
		return &pageError{status: http.StatusInternalServerError, heading: "Something went wrong on our side",
			message: "The problem has been logged. Try again in a moment; nothing you entered was saved halfway.", href: "/", label: "Go home"}
	}
	return &pageError{status: code, heading: http.StatusText(code), message: "The request could not be completed.", href: "/", label: "Go home"}
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
