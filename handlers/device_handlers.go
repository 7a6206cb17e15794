package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// deviceView is one place the devices list is shown: whose devices, at which
// path, what the viewer may do there, and the page around the list. The same
// handlers serve a tenant's own /devices and, for its parent's Super Admins,
// the sub-tenant's Devices tab.
type deviceView struct {
	owner          *models.Tenant
	base           string
	label          string // what the list is called, on the way back to it
	inTab          bool   // a sub-tenant's Devices tab
	deviceParam    string // the path parameter naming a device
	canEdit        bool
	canDeprovision bool
	page           func(pages.DevicesData) templ.Component
}

// ownDevices is /devices inside a tenant, for its members as their role allows.
func (h *Handlers) ownDevices(c echo.Context) (deviceView, error) {
	rs := stateOf(c)
	return deviceView{
		owner:          rs.tenant,
		base:           views.DevicesPath,
		label:          "Devices",
		deviceParam:    "id",
		canEdit:        rs.membership.Role.Can(models.PermEdit),
		canDeprovision: rs.membership.Role.Can(models.PermManageMembers),
		page: func(d pages.DevicesData) templ.Component {
			return pages.Devices(h.shell(c, "Devices", "devices"), d)
		},
	}, nil
}

// childDevices is the Devices tab of a sub-tenant, for the Super Admins of
// a tenant above it, who may do everything there. Anything outside the
// host's subtree is a 404.
func (h *Handlers) childDevices(c echo.Context) (deviceView, error) {
	path, err := h.subTenantParam(c)
	if err != nil {
		return deviceView{}, err
	}
	child := path.Target()
	return deviceView{
		owner:          child,
		base:           views.SubTenantPath(child.ID, "devices"),
		label:          child.Name + " devices",
		inTab:          true,
		deviceParam:    "deviceID",
		canEdit:        true,
		canDeprovision: true,
		page: func(d pages.DevicesData) templ.Component {
			return pages.SubTenantDevices(h.shell(c, child.Name, "sub-tenants"), h.subTenantFrame(c, path, "devices"), d)
		},
	}, nil
}

// deviceHandler adapts one of the handlers below to a place.
func (h *Handlers) deviceHandler(place func(echo.Context) (deviceView, error), fn func(echo.Context, deviceView) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := place(c)
		if err != nil {
			return err
		}
		return fn(c, v)
	}
}

// listQuery reads the list's search and page from the query, or from the
// hidden fields an action posts to come back to the same place.
func listQuery(c echo.Context) (string, models.PageRequest) {
	q := strings.TrimSpace(c.QueryParam("q"))
	page := c.QueryParam("page")
	if c.Request().Method == http.MethodPost {
		q, page = strings.TrimSpace(c.FormValue("q")), c.FormValue("page")
	}
	if r := []rune(q); len(r) > 100 {
		q = string(r[:100])
	}
	return q, models.ParsePage(page, models.DevicePageSize)
}

// listHref is the list at base with its search and page.
func listHref(base, q string, page int) string {
	query := url.Values{}
	if q != "" {
		query.Set("q", q)
	}
	if page > 1 {
		query.Set("page", strconv.Itoa(page))
	}
	if len(query) == 0 {
		return base
	}
	return base + "?" + query.Encode()
}

// showDevices renders the list, with whatever d already holds (an open
// form, its problems, an import report).
func (h *Handlers) showDevices(c echo.Context, v deviceView, status int, d pages.DevicesData) error {
	q, page := "", models.ParsePage("", models.DevicePageSize)
	if c.Request().Method == http.MethodGet {
		q, page = listQuery(c)
	}
	list, err := h.store.ListDevices(c.Request().Context(), v.owner.ID, q, page)
	if err != nil {
		return err
	}
	if last := lastPage(list.Total, page.Size); c.Request().Method == http.MethodGet && page.Number > last {
		return c.Redirect(http.StatusSeeOther, listHref(v.base, q, last))
	}
	d.Owner, d.Base, d.Page, d.Search = v.owner, v.base, list, q
	d.CanEdit, d.CanDeprovision, d.InTab = v.canEdit, v.canDeprovision, v.inTab
	return h.render(c, status, v.page(d))
}

// devicesIndex lists the devices, newest first, with search.
func (h *Handlers) devicesIndex(c echo.Context, v deviceView) error {
	return h.showDevices(c, v, http.StatusOK, pages.DevicesData{})
}

// newDeviceForm is the list with the Add device form open.
func (h *Handlers) newDeviceForm(c echo.Context, v deviceView) error {
	return h.showDevices(c, v, http.StatusOK, pages.DevicesData{AddOpen: true})
}

// addDevice registers one device, or shows the form again with the problems
// beside the fields and what was typed kept.
func (h *Handlers) addDevice(c echo.Context, v deviceView) error {
	form := pages.DeviceForm{Identifier: c.FormValue("identifier"), Model: c.FormValue("model"), Status: c.FormValue("status")}
	status, ok := models.ParseDeviceStatus(form.Status)
	if !ok {
		status = models.DeviceStatus(form.Status) // refused beside the field
	}
	d, err := h.store.AddDevice(c.Request().Context(), v.owner.ID, models.NewDevice{Identifier: form.Identifier, Model: form.Model, Status: status})
	if fieldErrors(err, &form.Errors) {
		return h.showDevices(c, v, http.StatusUnprocessableEntity, pages.DevicesData{Add: form, AddOpen: true})
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("device added", "tenant", v.owner.ID, "device", d.ID, "by", stateOf(c).user.ID)
	h.flash(c, "success", "Device "+d.Identifier+" added.")
	return c.Redirect(http.StatusSeeOther, v.base)
}

// importDevices reads an uploaded CSV file, imports its valid new devices in
// one transaction and shows the list with a line-by-line report.
func (h *Handlers) importDevices(c echo.Context, v deviceView) error {
	refuse := func(msg string) error {
		return h.showDevices(c, v, http.StatusUnprocessableEntity, pages.DevicesData{ImportOpen: true, ImportError: msg})
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return refuse("Choose a CSV file to import.")
	}
	if fh.Size > models.MaxDeviceCSVBytes {
		return refuse("The file is larger than 1 MiB. Split it into files of at most 5,000 devices and import them one by one.")
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	report, err := h.store.ImportDevicesCSV(c.Request().Context(), v.owner.ID, f)
	var csvErr *models.DeviceCSVError
	if errors.As(err, &csvErr) {
		return refuse(csvErr.Message)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("devices imported", "tenant", v.owner.ID, "imported", report.Imported, "refused", report.Refused, "by", stateOf(c).user.ID)
	return h.showDevices(c, v, http.StatusOK, pages.DevicesData{Report: &report})
}

// deviceID is the device named in the URL; not a number is a 404.
func deviceID(c echo.Context, v deviceView) (int64, error) { return paramID(c, v.deviceParam) }

// deprovisionDevice deprovisions a device for good. A device of any other
// tenant is a 404 and nothing changes; one already deprovisioned is said so.
func (h *Handlers) deprovisionDevice(c echo.Context, v deviceView) error {
	return h.changeDevice(c, v, func(id int64) (*models.Device, error) {
		d, err := h.store.DeprovisionDevice(c.Request().Context(), v.owner.ID, id)
		if err == nil {
			h.logFor(c).Info("device deprovisioned", "tenant", v.owner.ID, "device", d.ID, "by", stateOf(c).user.ID)
			h.flash(c, "success", d.Identifier+" is deprovisioned. This is final; it stays listed with the date.")
		}
		return d, err
	})
}

// editDeviceForm is the Edit device form. A deprovisioned device cannot be
// changed: the list says so instead.
func (h *Handlers) editDeviceForm(c echo.Context, v deviceView) error {
	id, err := deviceID(c, v)
	if err != nil {
		return err
	}
	d, err := h.store.DeviceByID(c.Request().Context(), v.owner.ID, id)
	if err != nil {
		return err
	}
	if d.Deprovisioned() {
		q, page := listQuery(c)
		h.flash(c, "error", refusal(models.ErrDeviceDeprovisioned))
		return c.Redirect(http.StatusSeeOther, listHref(v.base, q, page.Number))
	}
	return h.renderDeviceEdit(c, v, http.StatusOK, pages.DeviceEditData{Device: d, Model: d.Model})
}

// renderDeviceEdit shows the Edit device form with what d holds.
func (h *Handlers) renderDeviceEdit(c echo.Context, v deviceView, status int, d pages.DeviceEditData) error {
	q, page := listQuery(c)
	d.Owner, d.Action, d.Back, d.BackLabel = v.owner, views.DevicePath(v.base, d.Device.ID, "edit"), listHref(v.base, q, page.Number), v.label
	d.Keep = map[string]string{}
	if q != "" {
		d.Keep["q"] = q
	}
	if page.Number > 1 {
		d.Keep["page"] = strconv.Itoa(page.Number)
	}
	nav := "devices"
	if v.inTab {
		nav = "sub-tenants"
	}
	return h.render(c, status, pages.EditDevice(h.shell(c, "Edit "+d.Device.Identifier, nav), d))
}

// saveDevice saves the Edit device form and goes back to the list where it
// was, or shows the form again with the problem beside the field.
func (h *Handlers) saveDevice(c echo.Context, v deviceView) error {
	id, err := deviceID(c, v)
	if err != nil {
		return err
	}
	model := c.FormValue("model")
	ctx := c.Request().Context()
	d, err := h.store.SetDeviceModel(ctx, v.owner.ID, id, model)
	var problems models.FieldErrors
	if fieldErrors(err, &problems) {
		if d, err = h.store.DeviceByID(ctx, v.owner.ID, id); err != nil {
			return err
		}
		return h.renderDeviceEdit(c, v, http.StatusUnprocessableEntity, pages.DeviceEditData{Device: d, Model: model, Errors: problems})
	}
	q, page := listQuery(c)
	switch {
	case errors.Is(err, models.ErrDeviceDeprovisioned):
		h.flash(c, "error", refusal(err))
	case err != nil:
		return err
	default:
		h.flash(c, "success", d.Identifier+" saved: its model is "+d.Model+".")
	}
	return c.Redirect(http.StatusSeeOther, listHref(v.base, q, page.Number))
}

// setDeviceStatus makes a device active or inactive.
func (h *Handlers) setDeviceStatus(c echo.Context, v deviceView) error {
	raw := strings.TrimSpace(c.FormValue("status"))
	status, ok := models.ParseDeviceStatus(raw)
	if raw == "" || !ok || !status.Settable() {
		return &pageError{status: http.StatusUnprocessableEntity, heading: "Choose active or inactive",
			message: "A device can be made active or inactive here; deprovisioning has its own button.", href: v.base, label: "Back to devices"}
	}
	return h.changeDevice(c, v, func(id int64) (*models.Device, error) {
		d, err := h.store.SetDeviceStatus(c.Request().Context(), v.owner.ID, id, status)
		if err == nil {
			h.flash(c, "success", d.Identifier+" is "+strings.ToLower(d.Status.Label())+".")
		}
		return d, err
	})
}

// changeDevice applies a change to the device named in the URL and returns
// to the list where it was. Unknown devices and other tenants' are a 404 and
// nothing changes; a device already deprovisioned (perhaps in another tab)
// gets a message on the list.
func (h *Handlers) changeDevice(c echo.Context, v deviceView, change func(id int64) (*models.Device, error)) error {
	id, err := deviceID(c, v)
	if err != nil {
		return err
	}
	q, page := listQuery(c)
	_, err = change(id)
	switch {
	case errors.Is(err, models.ErrDeviceDeprovisioned):
		h.flash(c, "error", refusal(err))
	case err != nil:
		return err
	}
	return c.Redirect(http.StatusSeeOther, listHref(v.base, q, page.Number))
}
