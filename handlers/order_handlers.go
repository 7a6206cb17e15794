package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// ordersPageSize is how many orders one page of the list shows.
const ordersPageSize = 20

// ordersIndex lists the company's orders, newest first, with search.
func (h *Handlers) ordersIndex(c echo.Context) error {
	rs := stateOf(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	if len([]rune(q)) > 100 {
		q = string([]rune(q)[:100])
	}
	page := models.ParsePage(c.QueryParam("page"), ordersPageSize)
	list, err := h.store.ListOrders(c.Request().Context(), rs.tenant.ID, models.OrderFilter{Query: q}, page)
	if err != nil {
		return err
	}
	query := url.Values{}
	if q != "" {
		query.Set("q", q)
	}
	if last := lastPage(list.Total, page.Size); page.Number > last {
		query.Set("page", strconv.Itoa(last))
		return c.Redirect(http.StatusSeeOther, views.OrdersPath+"?"+query.Encode())
	}
	return h.render(c, http.StatusOK, pages.Orders(h.shell(c, "Orders", "orders"), pages.OrdersData{
		Page: list, Search: q, Query: query, Location: rs.tenant.Location(),
	}))
}

// newOrder shows the Create order form with the templates this member may use.
func (h *Handlers) newOrder(c echo.Context) error {
	form := pages.OrderForm{}
	if id := c.QueryParam("template"); id != "" {
		form.TemplateID = id
	}
	return h.renderOrderForm(c, http.StatusOK, form)
}

// createOrder creates an order, or shows the form again with the problems
// beside the fields and what was typed kept. A template the member may not
// use — another company's included — is refused beside the template field.
func (h *Handlers) createOrder(c echo.Context) error {
	rs := stateOf(c)
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	templateID, err := strconv.ParseInt(strings.TrimSpace(form.Get("template_id")), 10, 64)
	if err != nil {
		templateID = 0 // not a number: "Choose a template."
	}
	in := models.NewOrder{
		TemplateID:     templateID,
		ApplicantName:  form.Get("applicant_name"),
		ApplicantEmail: form.Get("applicant_email"),
		Reference:      form.Get("reference"),
	}
	order, err := h.store.CreateOrder(c.Request().Context(), rs.tenant.ID, rs.membership.ID, in)
	refused := pages.OrderForm{TemplateID: form.Get("template_id"), ApplicantName: in.ApplicantName,
		ApplicantEmail: in.ApplicantEmail, Reference: in.Reference}
	if fieldErrors(err, &refused.Errors) {
		return h.renderOrderForm(c, http.StatusUnprocessableEntity, refused)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Order for "+order.ApplicantName+" created.")
	return c.Redirect(http.StatusSeeOther, views.OrdersPath)
}

func (h *Handlers) renderOrderForm(c echo.Context, status int, form pages.OrderForm) error {
	rs := stateOf(c)
	templates, err := h.store.AvailableTemplates(c.Request().Context(), rs.tenant.ID, rs.membership.ID)
	if err != nil {
		return err
	}
	form.Templates = templates
	if form.TemplateID == "" && len(templates) == 1 {
		form.TemplateID = strconv.FormatInt(templates[0].ID, 10)
	}
	return h.render(c, status, pages.NewOrder(h.shell(c, "Create order", "orders"), form))
}

// lastPage is the number of the last page of a list, at least 1.
func lastPage(total int64, size int) int {
	if total <= 0 || size <= 0 {
		return 1
	}
	return int((total + int64(size) - 1) / int64(size))
}
