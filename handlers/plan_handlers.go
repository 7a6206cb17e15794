package handlers

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// Platform staff's billing plans (⚙ → Plans): every route is a
// platformRoute. A plan's prices are fixed once it exists, so the plan's
// page edits its name, description and whether it is the default, and
// Duplicate opens the New plan form filled in with its prices.

// plans lists the plans offered, then the archived ones, each with how
// many companies are on it this month.
func (h *Handlers) plans(c echo.Context) error {
	ctx := c.Request().Context()
	all, err := h.store.BillingPlans(ctx, true)
	if err != nil {
		return err
	}
	month := h.platformMonth(c)
	companies, err := h.store.BillingPlanCompanies(ctx, month)
	if err != nil {
		return err
	}
	data := pages.PlansData{Companies: companies, Month: month}
	for _, p := range all {
		if p.Archived() {
			data.Archived = append(data.Archived, p)
		} else {
			data.Active = append(data.Active, p)
		}
	}
	return h.render(c, http.StatusOK, pages.Plans(h.shell(c, "Plans", "plans"), data))
}

// platformMonth is the month it is now at the platform's host, in the
// platform's timezone: the month staff's figures are about.
func (h *Handlers) platformMonth(c echo.Context) models.BillingMonth {
	return models.MonthOf(h.now(), stateOf(c).tenant.Location())
}

// newPlanForm is the New plan form: empty, or with ?from= a plan's details
// and prices to start from (Duplicate), which is how prices change.
func (h *Handlers) newPlanForm(c echo.Context) error {
	form := pages.PlanForm{Currency: "USD", OrderPricing: pages.OrderPricingFlat}
	form.SetAmounts(models.BillingPlan{Currency: "USD"})
	if from := c.QueryParam("from"); from != "" {
		id, err := strconv.ParseInt(from, 10, 64)
		if err != nil {
			return errNotFound
		}
		plan, err := h.store.BillingPlanByID(c.Request().Context(), id)
		if err != nil {
			return err
		}
		form = pages.DuplicateOf(plan)
	}
	return h.render(c, http.StatusOK, pages.NewPlan(h.shell(c, "New plan", "plans"), form))
}

// createPlan adds a plan, or shows the form again with every problem beside
// its field: amounts it could not read and the store's refusals alike.
func (h *Handlers) createPlan(c echo.Context) error {
	rs := stateOf(c)
	form := planFormFrom(c)
	n, problems := planFromForm(form)
	for field, msg := range models.ValidateBillingPlan(n) {
		if _, ok := problems[field]; !ok {
			problems[field] = msg
		}
	}
	if len(problems) > 0 {
		form.Errors = problems
		return h.render(c, http.StatusUnprocessableEntity, pages.NewPlan(h.shell(c, "New plan", "plans"), form))
	}
	plan, err := h.store.CreateBillingPlan(c.Request().Context(), rs.tenant.ID, n)
	if fieldErrors(err, &form.Errors) {
		return h.render(c, http.StatusUnprocessableEntity, pages.NewPlan(h.shell(c, "New plan", "plans"), form))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Plan “"+plan.Name+"” created. Its prices are now fixed.")
	return c.Redirect(http.StatusSeeOther, views.PlanPath(plan.ID))
}

// planFormFrom reads the New plan form as typed.
func planFormFrom(c echo.Context) pages.PlanForm {
	v := c.FormValue
	return pages.PlanForm{
		Name: v("name"), Description: v("description"), Currency: v("currency"),
		OrderPricing: pages.ParseOrderPricing(v("order_pricing")), IsDefault: v("is_default") == "on",
		Amounts: map[string]string{
			"base_fee": v("base_fee"), "order_price": v("order_price"), "premium_order_price": v("premium_order_price"),
			"included_orders": v("included_orders"), "device_month_price": v("device_month_price"),
			"included_device_months": v("included_device_months"), "seat_price": v("seat_price"), "included_seats": v("included_seats"),
		},
	}
}

// planMoneyFields are the New plan form's amounts of money, in the
// plan's currency; planCountFields its quantities included.
var (
	planMoneyFields = []string{"base_fee", "order_price", "premium_order_price", "device_month_price", "seat_price"}
	planCountFields = []string{"included_orders", "included_device_months", "included_seats"}
)

// planFromForm reads the amounts typed, as decimals of the currency chosen
// (never through a float), and the counts, each problem beside its field.
// The premium price is read only when orders are priced by category.
func planFromForm(f pages.PlanForm) (models.NewBillingPlan, models.FieldErrors) {
	problems := models.FieldErrors{}
	currency := f.Currency
	if !slices.Contains(models.Currencies, currency) {
		currency = "USD" // refused beside its own field; the amounts are read in cents meanwhile
	}
	values := map[string]int64{}
	for _, field := range planMoneyFields {
		if field == "premium_order_price" && f.OrderPricing != pages.OrderPricingCategory {
			continue
		}
		typed := strings.TrimSpace(f.Amounts[field])
		if typed == "" {
			problems[field] = "Enter an amount; 0 for none."
			continue
		}
		amount, err := models.ParseAmount(typed, currency)
		if err != nil {
			problems[field] = sentence(err)
			continue
		}
		values[field] = amount
	}
	for _, field := range planCountFields {
		n, err := strconv.ParseInt(strings.TrimSpace(f.Amounts[field]), 10, 64)
		if err != nil || n < 0 {
			problems[field] = "Enter a whole number, 0 or more."
			continue
		}
		values[field] = n
	}
	n := models.NewBillingPlan{
		Name: f.Name, Description: f.Description, Currency: f.Currency, IsDefault: f.IsDefault,
		BaseFee: values["base_fee"], OrderPrice: values["order_price"], IncludedOrders: values["included_orders"],
		DeviceMonthPrice: values["device_month_price"], IncludedDeviceMonths: values["included_device_months"],
		SeatPrice: values["seat_price"], IncludedSeats: values["included_seats"],
	}
	if f.OrderPricing == pages.OrderPricingCategory {
		premium := values["premium_order_price"]
		n.PremiumOrderPrice = &premium
	}
	return n, problems
}

// plan is a plan's page: its prices, its use, and the form for what may
// still change.
func (h *Handlers) plan(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	plan, err := h.store.BillingPlanByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	edit := pages.PlanEdit{Name: plan.Name, Description: plan.Description}
	return h.renderPlan(c, http.StatusOK, plan, edit)
}

func (h *Handlers) renderPlan(c echo.Context, status int, plan *models.BillingPlan, edit pages.PlanEdit) error {
	month := h.platformMonth(c)
	companies, err := h.store.BillingPlanCompanies(c.Request().Context(), month)
	if err != nil {
		return err
	}
	data := pages.PlanDetailsData{Plan: plan, Companies: companies[plan.ID], Month: month, Edit: edit}
	return h.render(c, status, pages.PlanDetails(h.shell(c, plan.Name, "plans"), data))
}

// updatePlan saves a plan's name and description, and makes it the
// default when asked; its prices are not read from the form at all.
func (h *Handlers) updatePlan(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	edit := pages.PlanEdit{Name: c.FormValue("name"), Description: c.FormValue("description"), MakeDefault: c.FormValue("is_default") == "on"}
	ctx := c.Request().Context()
	plan, err := h.store.UpdateBillingPlan(ctx, rs.tenant.ID, id, edit.Name, edit.Description, edit.MakeDefault)
	if fieldErrors(err, &edit.Errors) {
		current, err := h.store.BillingPlanByID(ctx, id)
		if err != nil {
			return err
		}
		return h.renderPlan(c, http.StatusUnprocessableEntity, current, edit)
	}
	if err != nil {
		return err
	}
	message := "Plan “" + plan.Name + "” saved."
	if edit.MakeDefault {
		message += " Companies staff create now start on it."
	}
	h.flash(c, "success", message)
	return c.Redirect(http.StatusSeeOther, views.PlanPath(plan.ID))
}

// archivePlan stops offering a plan; the companies on it stay on it until
// staff move them. The default plan is refused (ErrDefaultPlan's page).
func (h *Handlers) archivePlan(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.store.ArchiveBillingPlan(ctx, rs.tenant.ID, id); err != nil {
		return err
	}
	plan, err := h.store.BillingPlanByID(ctx, id)
	if err != nil {
		return err
	}
	h.flash(c, "success", "Plan “"+plan.Name+"” archived. It is no longer offered; companies on it stay on it until you move them.")
	return c.Redirect(http.StatusSeeOther, views.PlanPath(plan.ID))
}

// sentence makes a message of the models package's, which reads as the
// rest of a sentence ("write an amount like 12.50"), one of its own.
func sentence(err error) string {
	msg := strings.TrimSpace(err.Error())
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}
