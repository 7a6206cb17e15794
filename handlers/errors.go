package handlers

import (
	"errors"
	"fmt"
	"net/http"

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

// redirectError stops a request and sends the browser elsewhere, e.g. to sign in.
// It is an error so that a gate such as authorize ends the handler.
type redirectError struct{ url string }

func (r *redirectError) Error() string { return "redirect to " + r.url }

var errNotFound = &pageError{status: http.StatusNotFound, heading: "Page not found",
	message: "The page you asked for does not exist or has moved.", href: "/", label: "Go home"}

// modelErrorPages is how each refusal of the models package reads, wherever
// it comes from: handlers return the error as it is, and handleError shows
// its page (or a handler flashes its message and goes on). The first match
// wins, so an error that wraps another (ErrInvitationUnknown wraps
// ErrNotFound) comes before it. Errors not listed are server errors.
var modelErrorPages = []struct {
	err  error
	page pageError
}{
	{models.ErrInvitationUnknown, pageError{status: http.StatusNotFound, heading: "This invitation link is not valid",
		message: "It may have been replaced by a newer invitation, or mistyped. Ask the person who invited you to send it again.",
		href:    "/", label: "Go to Canopy"}},
	{models.ErrNotFound, *errNotFound},
	{models.ErrInvitationExpired, pageError{status: http.StatusGone, heading: "This invitation has expired",
		message: "Invitation links work for 7 days. Ask the person who invited you to send a new one.", href: "/", label: "Go to Canopy"}},
	{models.ErrInvitationUsed, pageError{status: http.StatusGone, heading: "This invitation has already been answered",
		message: "It was accepted or declined before. If you accepted it, sign in to reach the company.", href: "/", label: "Go to Canopy"}},
	{models.ErrInvitationRevoked, pageError{status: http.StatusGone, heading: "This invitation was withdrawn",
		message: "The company revoked it. Ask them if you think this is a mistake.", href: "/", label: "Go to Canopy"}},
	{models.ErrInvitationNotPending, pageError{status: http.StatusConflict, heading: "That invitation was already answered",
		message: "It was accepted, declined or revoked in the meantime.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrOwnerIsFixed, pageError{status: http.StatusForbidden, heading: "That change is not allowed",
		message: "The owner of a company cannot be removed or demoted.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrOwnerCannotLeave, pageError{status: http.StatusForbidden, heading: "The owner cannot leave",
		message: "You own this company. Transfer ownership to another member first (Team, then Make owner on their row); then you can leave it.",
		href:    views.CompaniesPath, label: "Back to your companies"}},
	{models.ErrSelf, pageError{status: http.StatusForbidden, heading: "That change is not allowed",
		message: "You cannot change your own role or remove yourself. Ask another administrator.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrNotAllowed, pageError{status: http.StatusForbidden, heading: "That change is not allowed",
		message: "Your role does not allow this: nobody can act on someone above their own role, and only Super Admins grant or revoke Super Admin.",
		href:    views.TeamPath, label: "Back to Team"}},
	{models.ErrChangedMeanwhile, pageError{status: http.StatusConflict, heading: "Someone else changed this at the same moment",
		message: "Nothing was changed. Look at the list again: it shows what is there now.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrOwnerNotSuperAdmin, pageError{status: http.StatusConflict, heading: "That change is not allowed",
		message: "A company's owner must stay its member, as a Super Admin. Nothing was changed.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrTryAgain, pageError{status: http.StatusServiceUnavailable, heading: "Canopy was busy with another change",
		message: "Someone made a change at the same moment, and yours could not be made with it. Nothing was changed; try again."}},
	{models.ErrNotOwner, pageError{status: http.StatusForbidden, heading: "Only the owner can transfer ownership",
		message: "Ask the company's current owner to do it.", href: views.TeamPath, label: "Back to Team"}},
	{models.ErrOwnsAnother, pageError{status: http.StatusConflict, heading: "That person already owns a company",
		message: "That person already owns a company, and each person can own only one."}},
	// Deleting from a template's page flashes the specific reason instead
	// (pages.TemplateKept); this is the page for any other way it arrives.
	{models.ErrTemplateInUse, pageError{status: http.StatusConflict, heading: "That template cannot be deleted",
		message: "Orders were made from it, or it is the only template someone may order from.", href: views.TemplatesPath, label: "Back to templates"}},
	// An order's page shows the step refused with a way back to it
	// (orderRefusal); this is the page for any other way it arrives.
	{models.ErrOrderTransition, pageError{status: http.StatusConflict, heading: "That order cannot take this step",
		message: "An order goes from pending to in progress to completed, or is cancelled before it completes. Completed and cancelled orders are final.",
		href:    views.OrdersPath, label: "Back to orders"}},
	{models.ErrDeviceDeprovisioned, pageError{status: http.StatusConflict, heading: "That device is already deprovisioned",
		message: "That device is already deprovisioned; nothing changed. Deprovisioning is final."}},
	{models.ErrInvalidStatus, pageError{status: http.StatusUnprocessableEntity, heading: "Unknown status",
		message: "A sub-tenant is either active or inactive.", href: views.SubTenantsPath, label: "Back"}},
	{models.ErrImmutableField, pageError{status: http.StatusUnprocessableEntity, heading: "These details cannot be changed",
		message: "A company's name, subdomain, description and contact email are fixed when it is created."}},
	{models.ErrWebhookEndpointDisabled, pageError{status: http.StatusConflict, heading: "This endpoint is disabled",
		message: "Nothing is sent to a disabled endpoint, tests and replays included. Enable it on its page first.",
		href:    views.WebhooksPath, label: "Back to webhooks"}},
	{models.ErrWebhookDeliveryInFlight, pageError{status: http.StatusConflict, heading: "This delivery is being sent",
		message: "A worker is sending this delivery right now, so it was not queued again. Its outcome shows in a moment; replay it then if you still need to.",
		href:    views.WebhooksPath, label: "Back to webhooks"}},
	{models.ErrDefaultPlan, pageError{status: http.StatusConflict, heading: "The default plan stays offered",
		message: "Companies staff create start on the default plan, so it cannot be archived. Make another plan the default first.",
		href:    views.PlansPath, label: "Back to plans"}},
	{models.ErrWebhooksNotConfigured, pageError{status: http.StatusServiceUnavailable, heading: "Webhooks are not set up on this server",
		message: "This Canopy server has no key to keep webhook secrets with, so endpoints cannot be added or their secrets shown. Ask its operator.",
		href:    views.APIKeysPath, label: "Back to Developers"}},
	{models.ErrBadCredentials, pageError{status: http.StatusUnauthorized, heading: "The email or password is not correct",
		message: "Check them and sign in again.", href: "/login", label: "Sign in"}},
	{models.ErrHandoffUsed, pageError{status: http.StatusBadRequest, heading: "This sign-in link was already used",
		message: "Links that move you between companies work once and only for a minute. Sign in again.", href: "/login", label: "Sign in"}},
}

// pageFor is the page err is shown as: a pageError as itself, a refusal of
// the models package as the table says, one of Echo's by its status, and
// anything else as a server error (ok false).
func pageFor(err error) (page *pageError, ok bool) {
	var pe *pageError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &pe):
		return pe, true
	case errors.As(err, &he):
		return pageForStatus(he.Code), true
	}
	for _, known := range modelErrorPages {
		if errors.Is(err, known.err) {
			page := known.page
			return &page, true
		}
	}
	return pageForStatus(http.StatusInternalServerError), false
}

// refusal is the sentence a flash message uses for a refused change.
func refusal(err error) string {
	page, _ := pageFor(err)
	return page.message
}

// statusOf is the status the error handler will answer err with.
func statusOf(err error) int {
	var redirect *redirectError
	if errors.As(err, &redirect) {
		return http.StatusSeeOther
	}
	var api *apiError
	if errors.As(err, &api) {
		return api.status
	}
	page, _ := pageFor(err)
	return page.status
}

// fieldErrors copies validation messages into a form's errors and tells
// whether err was one: the form is then shown again with each message
// beside its field.
func fieldErrors[Errors ~map[string]string](err error, dst *Errors) bool {
	var fe models.FieldErrors
	if errors.As(err, &fe) {
		*dst = Errors(fe)
		return true
	}
	return false
}

// handleError turns any error into a page (see pageFor); a server error is
// logged and shows no internals.
func (h *Handlers) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if isAPIRequest(c) {
		h.handleAPIError(err, c)
		return
	}
	var redirect *redirectError
	if errors.As(err, &redirect) {
		_ = c.Redirect(http.StatusSeeOther, redirect.url)
		return
	}
	if models.IsDatabaseUnavailable(err) {
		h.databaseUnavailable(c, err)
		return
	}
	pe, ok := pageFor(err)
	if !ok {
		h.logFor(c).Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	h.renderError(c, pe, h.shell(c, pe.heading, ""))
}

// databaseRetryAfter is the Retry-After, in seconds, of an answer given
// while the database is unreachable: long enough for a restart's first
// moments, short enough that a person retrying is not kept waiting.
const databaseRetryAfter = "5"

// databaseUnavailablePage is every page's answer while the database cannot
// be reached (models.IsDatabaseUnavailable).
var databaseUnavailablePage = pageError{status: http.StatusServiceUnavailable, heading: "Canopy can't reach its database right now",
	message: "Try again in a moment."}

// databaseUnavailable answers a request that lost the database: 503 with
// Retry-After, a page that needs nothing of the database (the visitor's
// shell: no company toggle), and one warning in the log, without a stack.
func (h *Handlers) databaseUnavailable(c echo.Context, err error) {
	h.logFor(c).Warn("database unavailable", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	c.Response().Header().Set("Retry-After", databaseRetryAfter)
	page := databaseUnavailablePage
	h.renderError(c, &page, h.visitorShell(c, page.heading))
}

// renderError shows pe in shell's layout (nothing for a HEAD).
func (h *Handlers) renderError(c echo.Context, pe *pageError, shell views.Shell) {
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(pe.status)
		return
	}
	page := pages.Error(shell, pages.ErrorPage{
		Status: pe.status, Heading: pe.heading, Message: pe.message, ActionHref: pe.href, ActionLabel: pe.label,
		Reference: requestID(c),
	})
	if rerr := h.render(c, pe.status, page); rerr != nil {
		h.logFor(c).Error("render error page", "err", rerr)
		_ = c.String(pe.status, pe.heading+"\nReference: "+requestID(c))
	}
}

func pageForStatus(code int) *pageError {
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
