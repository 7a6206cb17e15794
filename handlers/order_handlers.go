package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
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
	env := models.OrderLive
	if c.QueryParam("env") == string(models.OrderTest) {
		env = models.OrderTest
	}
	page := models.ParsePage(c.QueryParam("page"), ordersPageSize)
	list, err := h.store.ListOrders(c.Request().Context(), rs.tenant.ID, models.OrderFilter{Query: q, Environment: env}, page)
	if err != nil {
		return err
	}
	query := url.Values{}
	if q != "" {
		query.Set("q", q)
	}
	if env == models.OrderTest {
		query.Set("env", string(env))
	}
	if last := lastPage(list.Total, page.Size); page.Number > last {
		query.Set("page", strconv.Itoa(last))
		return c.Redirect(http.StatusSeeOther, views.OrdersPath+"?"+query.Encode())
	}
	title := "Orders"
	if env == models.OrderTest {
		title = "Test orders"
	}
	return h.render(c, http.StatusOK, pages.Orders(h.shell(c, title, "orders"), pages.OrdersData{
		Page: list, Search: q, Query: query, TestData: env == models.OrderTest,
	}))
}

// orderDetails is one order's page: what it is, for whom, who made it,
// and each status it took, by whom and when. Editors and above get the
// steps it may take next.
func (h *Handlers) orderDetails(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	order, err := h.store.OrderDetailsOf(c.Request().Context(), rs.tenant.ID, id)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.OrderDetails(h.shell(c, "Order for "+order.ApplicantName, "orders"), pages.OrderDetailsData{Order: order}))
}

// changeOrderStatus moves an order to the status the form names, one of
// those its current status allows, and returns to its page. A step the
// order can no longer take (someone moved it meanwhile, or the form was
// old) is a page saying where the order is now.
func (h *Handlers) changeOrderStatus(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	to, err := models.ParseOrderStatus(c.FormValue("status"))
	if err != nil {
		return &pageError{status: http.StatusUnprocessableEntity, heading: "Unknown status",
			message: "An order is pending, in progress, completed or cancelled.", href: views.OrderPath(id), label: "Back to the order"}
	}
	order, err := h.store.ChangeOrderStatus(ctx, rs.tenant.ID, id, to)
	switch {
	case errors.Is(err, models.ErrOrderTransition), errors.Is(err, models.ErrChangedMeanwhile):
		return h.orderStepRefused(c, id, to)
	case err != nil:
		return err
	}
	h.flash(c, "success", orderStepDone(order))
	return c.Redirect(http.StatusSeeOther, views.OrderPath(id))
}

// orderStepRefused says why an order could not move to a status: where it
// is now, which is final or allows other steps.
func (h *Handlers) orderStepRefused(c echo.Context, id int64, to models.OrderStatus) error {
	order, err := h.store.OrderDetailsOf(c.Request().Context(), stateOf(c).tenant.ID, id)
	if err != nil {
		return err
	}
	message := "The order is " + strings.ToLower(order.Status.Label()) + " now"
	if len(order.Status.NextStatuses()) == 0 {
		message += ", which is final"
	}
	message += ", so it cannot be moved to " + strings.ToLower(to.Label()) + ". Someone may have changed it meanwhile; nothing was changed."
	return &pageError{status: http.StatusConflict, heading: "That order cannot take this step",
		message: message, href: views.OrderPath(id), label: "Back to the order"}
}

// orderStepDone is the flash message for an order that moved to a status.
func orderStepDone(o *models.Order) string {
	switch o.Status {
	case models.OrderCancelled:
		return "Order for " + o.ApplicantName + " cancelled."
	case models.OrderCompleted:
		return "Order for " + o.ApplicantName + " completed."
	}
	return "Order for " + o.ApplicantName + " is now " + strings.ToLower(o.Status.Label()) + "."
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
	order, err := h.store.CreateOrder(c.Request().Context(), rs.tenant.ID, rs.membership.ID, in, applicantMail(rs.tenant))
	refused := pages.OrderForm{TemplateID: form.Get("template_id"), ApplicantName: in.ApplicantName,
		ApplicantEmail: in.ApplicantEmail, Reference: in.Reference}
	if fieldErrors(err, &refused.Errors) {
		return h.renderOrderForm(c, http.StatusUnprocessableEntity, refused)
	}
	if err != nil {
		return err
	}
	if order.ApplicantEmail != "" {
		h.flash(c, "success", "Order for "+order.ApplicantName+" created and emailed to "+order.ApplicantEmail+".")
	} else {
		h.flash(c, "success", "Order for "+order.ApplicantName+" created. It has no applicant email, so nothing was sent.")
	}
	return c.Redirect(http.StatusSeeOther, views.OrdersPath)
}

// applicantMail writes the email an order sends its applicant. It speaks
// for the company the template brands (the tenant's own name when the
// template names none), saying plainly that Canopy only passes the request
// on. It holds no link: an applicant has nothing to do on Canopy, and any
// web address typed into the names or the reference is made inert, so the
// only addresses a Canopy email can carry are built from the configured
// base URL (as in invitations).
func applicantMail(tenant *models.Tenant) models.OrderMailFor {
	return func(o *models.Order, t *models.Template) models.NewEmail {
		company := t.BrandingCompanyName
		if company == "" {
			company = tenant.Name
		}
		company = quotedCompany(company)
		what := "some information"
		if kinds := t.CollectLabels(); len(kinds) > 0 {
			what = "your " + strings.ToLower(joinWords(kinds))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "Hello %s,\n\n", inertText(o.ApplicantName))
		fmt.Fprintf(&b, "The company %s has asked Canopy to let you know that it needs to verify %s.\n", company, what)
		if o.Reference != "" {
			fmt.Fprintf(&b, "The company's reference: %s\n", inertText(o.Reference))
		}
		fmt.Fprintf(&b, "\nThe company %s will contact you about the next step. This email is sent by Canopy on its behalf; "+
			"Canopy never asks you for a password or bank details by email.\n\n"+
			"If you do not know the company %s or were not expecting this, you can ignore this email.\n", company, company)
		return models.NewEmail{
			Subject: "The company " + company + " needs to verify " + what + " (sent by Canopy)",
			Body:    b.String(),
		}
	}
}

// Mail programs link more than addresses with a scheme: a bare host name
// (paypal-secure.com, www.x), an email address and an IP address too, also
// when written with a look-alike dot or colon.
var (
	// hostLike is a dotted name whose last label starts with two letters
	// (every top-level domain does), or an IPv4 address: what a mail
	// program could take for a host.
	hostLike = regexp.MustCompile(`[\p{L}\p{N}_-]+(?:[.．。｡][\p{L}\p{N}_-]+)*[.．。｡](?:\p{L}{2}[\p{L}\p{N}-]*|\p{N}+[.．。｡]\p{N}+[.．。｡]\p{N}+)`)
	// hostDot is a dot of any kind.
	hostDot = regexp.MustCompile(`[.．。｡]`)
	// schemeLike is the start of an address with a scheme, ordinary colon or not.
	schemeLike = regexp.MustCompile(`[:：]\s*//`)
)

// inertText is text someone typed, made safe to put in an email: anything
// that reads as a host, an email address or a link has its dots and its
// "://" broken ("evil[.]example", "https[:]//") so that no mail program
// links it. Other dots, as in "J.R.R. Tolkien" or "version 1.5", stay.
func inertText(s string) string {
	s = hostLike.ReplaceAllStringFunc(s, func(host string) string {
		return hostDot.ReplaceAllString(host, "[.]")
	})
	return schemeLike.ReplaceAllString(s, "[:]//")
}

// quoteMarks turns the double quotation marks of a name into single ones,
// so the name cannot close the quotation it is shown in.
var quoteMarks = strings.NewReplacer(`"`, "'", "“", "‘", "”", "’", "„", "‚", "«", "‹", "»", "›", "＂", "'")

// quotedCompany is a company's name as an email shows it: in quotation
// marks, after "the company", inert (inertText), and unable to close its
// quotation early. A name is whatever its creator typed — "Canopy Security
// Team: your account is suspended" — so an email must show it as a name,
// never as words of Canopy's own.
func quotedCompany(name string) string {
	return "“" + quoteMarks.Replace(inertText(name)) + "”"
}

// joinWords lists words as a sentence does: "a", "a and b", "a, b and c".
func joinWords(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
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
