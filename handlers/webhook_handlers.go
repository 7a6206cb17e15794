package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// Developers → Webhooks: a company's endpoints, their secrets and their
// delivery logs. Every route needs PermManageSettings: an endpoint's page
// leads to its secret and to what was sent, personal data included.

// webhooks lists the company's endpoints by environment, each with its
// newest delivery.
func (h *Handlers) webhooks(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	endpoints, err := h.store.ListWebhookEndpoints(ctx, rs.tenant.ID, "")
	if err != nil {
		return err
	}
	last, err := h.store.LastWebhookDeliveries(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.Webhooks(h.shell(c, "Webhooks", "developers"),
		pages.WebhooksData{Endpoints: endpoints, Last: last}))
}

// newWebhookForm is the form adding an endpoint: sandbox unless asked,
// every event, the fields that are not personal data.
func (h *Handlers) newWebhookForm(c echo.Context) error {
	f := pages.WebhookForm{Environment: string(models.WebhookSandbox), Fields: models.DefaultWebhookFields()}
	if c.QueryParam("environment") == string(models.WebhookProduction) {
		f.Environment = string(models.WebhookProduction)
	}
	for _, e := range models.WebhookEventTypes {
		f.Events = append(f.Events, e.Type)
	}
	return h.renderWebhookForm(c, http.StatusOK, f)
}

// webhookFormOf reads the endpoint form: per object type, the fields
// ticked (none ticked is a choice too, so every type is present).
func webhookFormOf(c echo.Context) (pages.WebhookForm, error) {
	if err := c.Request().ParseForm(); err != nil {
		return pages.WebhookForm{}, err
	}
	form := c.Request().Form
	f := pages.WebhookForm{Environment: form.Get("environment"), URL: form.Get("url"), Description: form.Get("description"),
		Events: form["events"], Enabled: form.Get("enabled") == "on", Fields: models.WebhookFields{}}
	for _, o := range models.WebhookObjects {
		f.Fields[o.Type] = append([]string{}, form[pages.WebhookFieldInput(o.Type)]...)
	}
	return f, nil
}

func (h *Handlers) renderWebhookForm(c echo.Context, status int, f pages.WebhookForm) error {
	title := "New webhook endpoint"
	if f.Endpoint != nil {
		title = "Edit webhook endpoint"
	}
	return h.render(c, status, pages.WebhookEndpointForm(h.shell(c, title, "developers"), f))
}

// createWebhook adds an endpoint and opens its page, where its secret is
// revealed on demand.
func (h *Handlers) createWebhook(c echo.Context) error {
	rs := stateOf(c)
	f, err := webhookFormOf(c)
	if err != nil {
		return err
	}
	e, _, err := h.store.CreateWebhookEndpoint(c.Request().Context(), rs.tenant.ID, models.WebhookEndpointInput{
		Environment: models.WebhookEnvironment(f.Environment), URL: f.URL, Description: f.Description, Events: f.Events, Fields: f.Fields})
	if fieldErrors(err, &f.Errors) {
		return h.renderWebhookForm(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("webhook endpoint created", "tenant", rs.tenant.ID, "endpoint", e.ID, "environment", e.Environment, "by", rs.user.ID)
	h.flash(c, "success", "Endpoint added. Reveal its signing secret below to verify deliveries, and send a test event to try it.")
	return c.Redirect(http.StatusSeeOther, views.WebhookPath(e.ID))
}

// editWebhookForm is the form for an existing endpoint, as it is.
func (h *Handlers) editWebhookForm(c echo.Context) error {
	e, err := h.endpointOf(c)
	if err != nil {
		return err
	}
	f := pages.WebhookForm{Endpoint: e, Environment: string(e.Environment), URL: e.URL, Description: e.Description,
		Events: e.EventTypes(), Enabled: e.Enabled, Fields: e.FieldChoice()}
	return h.renderWebhookForm(c, http.StatusOK, f)
}

// updateWebhook saves the form, and enables or disables the endpoint when
// the box was changed.
func (h *Handlers) updateWebhook(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	e, err := h.endpointOf(c)
	if err != nil {
		return err
	}
	f, err := webhookFormOf(c)
	if err != nil {
		return err
	}
	f.Endpoint, f.Environment = e, string(e.Environment)
	_, err = h.store.UpdateWebhookEndpoint(ctx, rs.tenant.ID, e.ID, models.WebhookEndpointInput{
		URL: f.URL, Description: f.Description, Events: f.Events, Fields: f.Fields})
	if fieldErrors(err, &f.Errors) {
		return h.renderWebhookForm(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	if f.Enabled != e.Enabled {
		if err := h.store.SetWebhookEndpointEnabled(ctx, rs.tenant.ID, e.ID, f.Enabled); err != nil {
			return err
		}
	}
	h.flash(c, "success", "Endpoint saved. Events from now on are sent as it now says.")
	return c.Redirect(http.StatusSeeOther, views.WebhookPath(e.ID))
}

// endpointOf loads the endpoint the path names, of the host's company.
func (h *Handlers) endpointOf(c echo.Context) (*models.WebhookEndpoint, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return h.store.WebhookEndpointOf(c.Request().Context(), stateOf(c).tenant.ID, id)
}

// webhookLogFilter reads the delivery log's filters; an unknown value is
// no filter.
func webhookLogFilter(c echo.Context) (models.WebhookDeliveryFilter, models.PageRequest) {
	f := models.WebhookDeliveryFilter{EventType: c.QueryParam("event"), Status: c.QueryParam("status")}
	if models.WebhookEventObject(f.EventType) == "" {
		f.EventType = ""
	}
	if !slices.Contains(pages.WebhookDeliveryStatuses, f.Status) {
		f.Status = ""
	}
	return f, models.ParsePage(c.QueryParam("page"), models.WebhookLogPageSize)
}

// webhookEndpoint is an endpoint's page: what it receives, its secret,
// a test event, and its delivery log.
func (h *Handlers) webhookEndpoint(c echo.Context) error {
	return h.renderWebhookEndpoint(c, http.StatusOK, nil, false)
}

func (h *Handlers) renderWebhookEndpoint(c echo.Context, status int, secrets *models.WebhookSecrets, rotated bool) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	filter, page := webhookLogFilter(c)
	if c.Request().Method == http.MethodPost {
		filter, page = models.WebhookDeliveryFilter{}, models.ParsePage("", models.WebhookLogPageSize)
	}
	e, log, err := h.store.WebhookEndpointWithDeliveries(c.Request().Context(), rs.tenant.ID, id, filter, page)
	if err != nil {
		return err
	}
	loc := rs.tenant.Location()
	d := pages.WebhookEndpointData{Endpoint: *e, Log: log, Filter: filter, Secrets: secrets, Rotated: rotated, Now: h.now(),
		ResendSince: h.now().In(loc).Add(-24 * time.Hour).Format(datetimeLocal)}
	return h.render(c, status, pages.WebhookEndpoint(h.shell(c, "Webhook endpoint", "developers"), d))
}

// datetimeLocal is how an <input type="datetime-local"> sends its value.
const datetimeLocal = "2006-01-02T15:04"

// revealWebhookSecret shows the endpoint's secret on the page this POST
// answers with (never cached), and records in the audit log who saw it.
func (h *Handlers) revealWebhookSecret(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	secrets, err := h.store.RevealWebhookSecret(c.Request().Context(), rs.tenant.ID, id)
	if err != nil {
		return err
	}
	h.logFor(c).Info("webhook secret revealed", "tenant", rs.tenant.ID, "endpoint", id, "by", rs.user.ID)
	return h.renderWebhookEndpoint(c, http.StatusOK, secrets, false)
}

// rotateWebhookSecret gives the endpoint a new secret and shows it; the old
// one signs beside it for a day.
func (h *Handlers) rotateWebhookSecret(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := h.store.RotateWebhookSecret(ctx, rs.tenant.ID, id); err != nil {
		return err
	}
	secrets, err := h.store.RevealWebhookSecret(ctx, rs.tenant.ID, id)
	if err != nil {
		return err
	}
	h.logFor(c).Info("webhook secret rotated", "tenant", rs.tenant.ID, "endpoint", id, "by", rs.user.ID)
	return h.renderWebhookEndpoint(c, http.StatusOK, secrets, true)
}

// setWebhookEnabled enables or disables the endpoint, as the route says.
func (h *Handlers) setWebhookEnabled(enabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		if err := h.store.SetWebhookEndpointEnabled(c.Request().Context(), stateOf(c).tenant.ID, id, enabled); err != nil {
			return err
		}
		if enabled {
			h.flash(c, "success", "Endpoint enabled. New events are sent to it; use Resend failed to send what it missed.")
		} else {
			h.flash(c, "success", "Endpoint disabled. Nothing is sent to it until it is enabled again.")
		}
		return c.Redirect(http.StatusSeeOther, views.WebhookPath(id))
	}
}

// deleteWebhook deletes the endpoint with its log.
func (h *Handlers) deleteWebhook(c echo.Context) error {
	rs := stateOf(c)
	e, err := h.endpointOf(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteWebhookEndpoint(c.Request().Context(), rs.tenant.ID, e.ID); err != nil {
		return err
	}
	h.logFor(c).Info("webhook endpoint deleted", "tenant", rs.tenant.ID, "endpoint", e.ID, "by", rs.user.ID)
	h.flash(c, "success", "Deleted the endpoint "+e.URL+" and its delivery log.")
	return c.Redirect(http.StatusSeeOther, views.WebhooksPath)
}

// sendWebhookTestEvent queues a test event of the chosen type to the endpoint.
func (h *Handlers) sendWebhookTestEvent(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	eventType := c.FormValue("event")
	_, err = h.store.SendWebhookTestEvent(c.Request().Context(), stateOf(c).tenant.ID, id, eventType)
	var problems models.FieldErrors
	switch {
	case errors.As(err, &problems):
		h.flash(c, "error", "Choose an event from the list.")
	case errors.Is(err, models.ErrWebhookEndpointDisabled):
		h.flash(c, "error", refusal(err))
	case err != nil:
		return err
	default:
		h.flash(c, "success", "Test "+eventType+" event queued. It appears in the log below, marked Test, within a few seconds.")
	}
	return c.Redirect(http.StatusSeeOther, views.WebhookPath(id))
}

// resendFailedWebhooks sends again every delivery since the time chosen
// (in the company's time zone) that did not get through.
func (h *Handlers) resendFailedWebhooks(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	since, err := time.ParseInLocation(datetimeLocal, strings.TrimSpace(c.FormValue("since")), rs.tenant.Location())
	if err != nil {
		h.flash(c, "error", "Choose the date and time to resend failed deliveries from.")
		return c.Redirect(http.StatusSeeOther, views.WebhookPath(id))
	}
	n, err := h.store.ResendFailedWebhookDeliveries(c.Request().Context(), rs.tenant.ID, id, since)
	switch {
	case errors.Is(err, models.ErrWebhookEndpointDisabled):
		h.flash(c, "error", refusal(err))
	case err != nil:
		return err
	case n == 0:
		h.flash(c, "info", "No failed deliveries since then; nothing to resend.")
	default:
		h.flash(c, "success", "Resending "+pages.CountOf(int(n), "failed delivery", "failed deliveries")+". They appear below as Pending until they get through.")
	}
	return c.Redirect(http.StatusSeeOther, views.WebhookPath(id))
}

// webhookDelivery is one delivery's page: what was sent and, per attempt,
// what came back.
func (h *Handlers) webhookDelivery(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	id, err := pathID(c)
	if err != nil {
		return err
	}
	d, err := h.store.WebhookDeliveryOf(ctx, rs.tenant.ID, id)
	if err != nil {
		return err
	}
	e, err := h.store.WebhookEndpointOf(ctx, rs.tenant.ID, d.EndpointID)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.WebhookDelivery(h.shell(c, "Webhook delivery", "developers"),
		pages.WebhookDeliveryData{Endpoint: *e, Delivery: *d}))
}

// replayWebhookDelivery sends a delivery again, with the same webhook-id.
func (h *Handlers) replayWebhookDelivery(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	err = h.store.ReplayWebhookDelivery(c.Request().Context(), stateOf(c).tenant.ID, id)
	switch {
	case errors.Is(err, models.ErrWebhookEndpointDisabled), errors.Is(err, models.ErrWebhookDeliveryInFlight), errors.Is(err, models.ErrChangedMeanwhile):
		h.flash(c, "error", refusal(err))
	case err != nil:
		return err
	default:
		h.flash(c, "success", "Replay queued, with the same webhook-id. Its new attempts appear below.")
	}
	return c.Redirect(http.StatusSeeOther, views.WebhookDeliveryPath(id))
}
