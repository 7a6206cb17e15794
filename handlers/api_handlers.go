package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
)

// The JSON API's handlers. Each reads the request, calls the store with the
// host's company (the key's, loadAPIKey) and answers JSON; errors go back
// as they are, and apiRoute makes them the API's.

// apiOrder is an order as the API shows it.
type apiOrder struct {
	ID                int64             `json:"id"`
	Object            string            `json:"object"`
	TemplateID        int64             `json:"template_id"`
	ApplicantName     string            `json:"applicant_name"`
	ApplicantEmail    *string           `json:"applicant_email"`
	Reference         *string           `json:"reference"`
	Status            string            `json:"status"`
	Environment       string            `json:"environment"`
	CreatedByAPIKeyID *int64            `json:"created_by_api_key_id"`
	CreatedAt         string            `json:"created_at"`
	UpdatedAt         string            `json:"updated_at"`
	History           []apiOrderHistory `json:"history,omitempty"`
}

// apiOrderHistory is one status an order took.
type apiOrderHistory struct {
	FromStatus *string `json:"from_status"`
	ToStatus   string  `json:"to_status"`
	Actor      string  `json:"actor"`
	APIKeyID   *int64  `json:"api_key_id"`
	CreatedAt  string  `json:"created_at"`
}

func apiOrderOf(o models.Order) apiOrder {
	return apiOrder{
		ID: o.ID, Object: "order", TemplateID: o.TemplateID, ApplicantName: o.ApplicantName,
		ApplicantEmail: optional(o.ApplicantEmail), Reference: optional(o.Reference), Status: string(o.Status),
		Environment: string(o.Environment), CreatedByAPIKeyID: o.CreatedByAPIKeyID,
		CreatedAt: apiTime(o.CreatedAt), UpdatedAt: apiTime(o.UpdatedAt),
	}
}

func orderID(o models.Order) int64 { return o.ID }

// orderWithHistory is the order and every status it took, for the answers
// about one order.
func (h *Handlers) orderWithHistory(c echo.Context, o *models.Order) (apiOrder, error) {
	view := apiOrderOf(*o)
	events, err := h.store.OrderEvents(c.Request().Context(), o.TenantID, o.ID)
	if err != nil {
		return view, err
	}
	view.History = make([]apiOrderHistory, 0, len(events))
	for _, e := range events {
		step := apiOrderHistory{ToStatus: string(e.ToStatus), Actor: e.ActorLabel, APIKeyID: e.APIKeyID, CreatedAt: apiTime(e.CreatedAt)}
		if e.FromStatus != nil {
			from := string(*e.FromStatus)
			step.FromStatus = &from
		}
		view.History = append(view.History, step)
	}
	return view, nil
}

// keyEnvironment is the orders the request's key works with: test orders
// for a sandbox key, live ones for a production key.
func keyEnvironment(c echo.Context) models.OrderEnvironment {
	return stateOf(c).apiKey.Environment.OrderEnvironment()
}

// apiListOrders lists the orders of the key's environment, newest first.
func (h *Handlers) apiListOrders(c echo.Context) error {
	page, err := apiListRequest(c)
	if err != nil {
		return err
	}
	f := models.APIOrderFilter{Environment: keyEnvironment(c)}
	if raw := c.QueryParam("status"); raw != "" {
		if f.Status, err = models.ParseOrderStatus(raw); err != nil {
			return badParam("status", "status is one of pending, in_progress, completed, cancelled.")
		}
	}
	if raw := c.QueryParam("template_id"); raw != "" {
		if f.TemplateID, err = strconv.ParseInt(raw, 10, 64); err != nil || f.TemplateID <= 0 {
			return badParam("template_id", "template_id is a template's id.")
		}
	}
	for param, dst := range map[string]**time.Time{"created_after": &f.CreatedAfter, "created_before": &f.CreatedBefore} {
		if raw := c.QueryParam(param); raw != "" {
			t, err := time.Parse(time.RFC3339, raw)
			if err != nil {
				return badParam(param, param+" is a time in RFC 3339, e.g. 2025-01-31T09:00:00Z.")
			}
			*dst = &t
		}
	}
	orders, err := h.store.APIOrders(c.Request().Context(), stateOf(c).tenant.ID, f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(orders, apiOrderOf, orderID))
}

// apiCreateOrderRequest is the body of POST /orders.
type apiCreateOrderRequest struct {
	TemplateID     int64  `json:"template_id"`
	ApplicantName  string `json:"applicant_name"`
	ApplicantEmail string `json:"applicant_email"`
	Reference      string `json:"reference"`
}

// apiCreateOrder creates an order in the key's environment from any of the
// company's templates, emailing the applicant as the dashboard does.
func (h *Handlers) apiCreateOrder(c echo.Context) error {
	var in apiCreateOrderRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	rs := stateOf(c)
	o, err := h.store.CreateOrderByAPIKey(c.Request().Context(), rs.tenant.ID, models.NewAPIOrder{
		NewOrder: models.NewOrder{TemplateID: in.TemplateID, ApplicantName: in.ApplicantName,
			ApplicantEmail: in.ApplicantEmail, Reference: in.Reference},
		APIKeyID: rs.apiKey.ID, Environment: keyEnvironment(c),
	}, applicantMail(rs.tenant))
	if err != nil {
		return err
	}
	view, err := h.orderWithHistory(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, view)
}

// apiGetOrder shows one order of the key's environment with its history.
func (h *Handlers) apiGetOrder(c echo.Context) error {
	id, err := apiID(c)
	if err != nil {
		return err
	}
	o, err := h.store.APIOrder(c.Request().Context(), stateOf(c).tenant.ID, keyEnvironment(c), id)
	if err != nil {
		return err
	}
	view, err := h.orderWithHistory(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// apiCancelOrder cancels an order of the key's environment that is not
// final yet.
func (h *Handlers) apiCancelOrder(c echo.Context) error {
	id, err := apiID(c)
	if err != nil {
		return err
	}
	if err := decodeJSON(c, &struct{}{}); err != nil {
		return err
	}
	o, err := h.store.ChangeAPIOrderStatus(c.Request().Context(), stateOf(c).tenant.ID, keyEnvironment(c), id, models.OrderCancelled)
	if err != nil {
		return err
	}
	view, err := h.orderWithHistory(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// apiSimulateOrder moves a test order to the status asked for, through
// each step on the way, for trying an integration out. Only sandbox keys
// may, and they reach only test orders.
func (h *Handlers) apiSimulateOrder(c echo.Context) error {
	id, err := apiID(c)
	if err != nil {
		return err
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	rs := stateOf(c)
	if rs.apiKey.Environment != models.APISandbox {
		return errAPISandboxOnly
	}
	target, err := models.ParseOrderStatus(in.Status)
	if err != nil {
		return &apiError{status: http.StatusUnprocessableEntity, code: "validation_failed", param: "status",
			message: "status is one of in_progress, completed, cancelled."}
	}
	ctx := c.Request().Context()
	if _, err := h.store.APIOrder(ctx, rs.tenant.ID, keyEnvironment(c), id); err != nil {
		return err
	}
	o, err := h.store.SimulateOrder(ctx, rs.tenant.ID, id, target)
	if err != nil {
		return err
	}
	view, err := h.orderWithHistory(c, o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

// apiDevice is a device as the API shows it.
type apiDevice struct {
	ID              int64   `json:"id"`
	Object          string  `json:"object"`
	Identifier      string  `json:"identifier"`
	Model           string  `json:"model"`
	Status          string  `json:"status"`
	DeprovisionedAt *string `json:"deprovisioned_at"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
}

func apiDeviceOf(d models.Device) apiDevice {
	return apiDevice{ID: d.ID, Object: "device", Identifier: d.Identifier, Model: d.Model, Status: string(d.Status),
		DeprovisionedAt: apiTimePtr(d.DeprovisionedAt), CreatedAt: apiTime(d.CreatedAt), UpdatedAt: apiTime(d.UpdatedAt)}
}

func deviceIDOf(d models.Device) int64 { return d.ID }

// maxAPISearch is the longest search the API reads.
const maxAPISearch = 100

// apiListDevices lists the company's devices, newest first, optionally
// searched by identifier or model.
func (h *Handlers) apiListDevices(c echo.Context) error {
	page, err := apiListRequest(c)
	if err != nil {
		return err
	}
	q := c.QueryParam("q")
	if len([]rune(q)) > maxAPISearch {
		return badParam("q", "Search with at most 100 characters.")
	}
	devices, err := h.store.APIDevices(c.Request().Context(), stateOf(c).tenant.ID, q, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(devices, apiDeviceOf, deviceIDOf))
}

// apiGetDevice shows one device of the company.
func (h *Handlers) apiGetDevice(c echo.Context) error {
	id, err := apiID(c)
	if err != nil {
		return err
	}
	d, err := h.store.DeviceByID(c.Request().Context(), stateOf(c).tenant.ID, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiDeviceOf(*d))
}

// apiCreateDevice adds a device, checked as the dashboard's form is.
func (h *Handlers) apiCreateDevice(c echo.Context) error {
	var in struct {
		Identifier string `json:"identifier"`
		Model      string `json:"model"`
		Status     string `json:"status"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	status, ok := models.ParseDeviceStatus(in.Status)
	if !ok {
		return models.FieldErrors{"status": "A new device is either active or inactive."}
	}
	d, err := h.store.AddDevice(c.Request().Context(), stateOf(c).tenant.ID, models.NewDevice{
		Identifier: in.Identifier, Model: in.Model, Status: status})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, apiDeviceOf(*d))
}

// apiSetDeviceStatus makes a device active or inactive, or deprovisions it
// for good, as an Admin may in the dashboard.
func (h *Handlers) apiSetDeviceStatus(c echo.Context) error {
	id, err := apiID(c)
	if err != nil {
		return err
	}
	var in struct {
		Status string `json:"status"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	status, ok := models.ParseDeviceStatus(in.Status)
	if !ok || in.Status == "" {
		return models.FieldErrors{"status": "status is one of active, inactive, deprovisioned."}
	}
	ctx, tenantID := c.Request().Context(), stateOf(c).tenant.ID
	var d *models.Device
	if status == models.DeviceDeprovisioned {
		d, err = h.store.DeprovisionDevice(ctx, tenantID, id)
	} else {
		d, err = h.store.SetDeviceStatus(ctx, tenantID, id, status)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiDeviceOf(*d))
}

// apiMember is a member as the API shows them: no sign-in details.
type apiMember struct {
	ID        int64  `json:"id"`
	Object    string `json:"object"`
	UserID    int64  `json:"user_id"`
	Name      string `json:"name"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	JoinedAt  string `json:"joined_at"`
}

func apiMemberOf(m models.APIMember) apiMember {
	return apiMember{ID: m.ID, Object: "member", UserID: m.UserID, Name: m.Name(), FirstName: m.FirstName,
		LastName: m.LastName, Email: m.Email, Role: string(m.Role), JoinedAt: apiTime(m.JoinedAt)}
}

func memberIDOf(m models.APIMember) int64 { return m.ID }

// apiListMembers lists the company's members, newest first.
func (h *Handlers) apiListMembers(c echo.Context) error {
	page, err := apiListRequest(c)
	if err != nil {
		return err
	}
	members, err := h.store.APIMembers(c.Request().Context(), stateOf(c).tenant.ID, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listOf(members, apiMemberOf, memberIDOf))
}
