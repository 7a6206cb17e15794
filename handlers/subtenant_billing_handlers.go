package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// A company's billing terms, on platform staff's Billing tab of its
// details (platformRoutes, for a company at any depth): its plan and the
// company it is billed to, changed from its next month.

// subTenantBilling shows the tab. Its bill-to search (?q=) reloads it with
// the plan and company chosen kept in the address (?plan_id=, ?bill_to=);
// without them the form starts from the company's latest terms.
func (h *Handlers) subTenantBilling(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	data, err := h.termsOf(c, child)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	var billTo *models.BillToCandidate
	if latest := data.Latest(); latest != nil {
		data.Form.PlanID, billTo = latest.PlanID, latest.BillTo()
	}
	if q.Has("plan_id") {
		data.Form.PlanID = formID(q.Get("plan_id"))
	}
	chosen := idOf(billTo)
	if q.Has("bill_to") {
		chosen = formID(q.Get("bill_to"))
	}
	if !q.Has("q") && chosen == idOf(billTo) {
		data.Form.Picker = pages.BillToPicker{Chosen: billTo} // the latest terms name it already
	} else if data.Form.Picker, err = h.billToPicker(c, child.ID, chosen, q.Get("q"), q.Has("q")); err != nil {
		return err
	}
	return h.renderSubTenantBilling(c, path, http.StatusOK, data)
}

// changeSubTenantBilling sets the company's terms from its next month
// (Store.ChangeBillingTerms, audited there); a bill-to chain that would
// come back to the company is refused beside the field. Not a hot page:
// the change and its checks take more statements than a page's budget.
func (h *Handlers) changeSubTenantBilling(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	form := pages.TermsForm{PlanID: formID(c.FormValue("plan_id"))}
	billTo := formID(c.FormValue("bill_to"))
	if form.Picker, err = h.billToPicker(c, child.ID, billTo, "", false); err != nil {
		return err
	}
	refuse := func(form pages.TermsForm) error {
		data, err := h.termsOf(c, child)
		if err != nil {
			return err
		}
		data.Form = form
		return h.renderSubTenantBilling(c, path, http.StatusUnprocessableEntity, data)
	}
	if billTo != 0 && form.Picker.Chosen == nil {
		form.Picker.Error = "Choose a company from the list."
		return refuse(form)
	}
	latest, err := h.store.LatestBillingTerms(c.Request().Context(), child.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if err == nil && latest.PlanID == form.PlanID && idOrZero(latest.BillToTenantID) == billTo {
		h.flash(c, "info", "Nothing changed: these are "+child.Name+"'s terms already.")
		return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "billing"))
	}
	terms, err := h.store.ChangeBillingTerms(c.Request().Context(), child.ID, form.PlanID, billTo)
	if fieldErrors(err, &form.Errors) {
		form.Picker.Error = form.Errors["bill_to"]
		return refuse(form)
	}
	if err != nil {
		return err
	}
	plan, err := h.store.BillingPlanByID(c.Request().Context(), terms.PlanID)
	if err != nil {
		return err
	}
	billed := "pays for itself"
	if form.Picker.Chosen != nil {
		billed = "is billed to " + form.Picker.Chosen.Name
	}
	h.flash(c, "success", "From "+terms.EffectiveMonth.Label()+", "+child.Name+" is on the plan "+plan.Name+" and "+billed+
		". Its statement for this month keeps the terms it began with.")
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "billing"))
}

// termsOf is what the tab shows of a company's terms: those in force this
// month (in its timezone), a change scheduled for the next, and the plans.
func (h *Handlers) termsOf(c echo.Context, child *models.Tenant) (pages.SubTenantBillingData, error) {
	ctx := c.Request().Context()
	data := pages.SubTenantBillingData{Month: models.MonthOf(h.now(), child.Location())}
	schedule, err := h.store.BillingTermsFrom(ctx, child.ID, data.Month)
	if err != nil {
		return data, err
	}
	for i := range schedule {
		if schedule[i].EffectiveMonth <= data.Month {
			data.Current = &schedule[i]
		} else {
			data.Scheduled = &schedule[i]
		}
	}
	plans, err := h.store.BillingPlans(ctx, true)
	if err != nil {
		return data, err
	}
	data.Plans = make(map[int64]*models.BillingPlan, len(plans))
	for i := range plans {
		data.Plans[plans[i].ID] = &plans[i]
	}
	return data, nil
}

// renderSubTenantBilling shows the tab: the form offers the plans offered
// to all and the company's current plan even when archived (it may stay on
// it); with no plan chosen, the default is.
func (h *Handlers) renderSubTenantBilling(c echo.Context, path models.TreePath, status int, data pages.SubTenantBillingData) error {
	for _, p := range data.Plans {
		if !p.Archived() || (data.Current != nil && data.Current.PlanID == p.ID) {
			data.Offered = append(data.Offered, *p)
		}
		if data.Form.PlanID == 0 && p.IsDefault {
			data.Form.PlanID = p.ID
		}
	}
	slices.SortFunc(data.Offered, func(a, b models.BillingPlan) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	child := path.Target()
	return h.render(c, status, pages.SubTenantBilling(h.shell(c, child.Name, "sub-tenants"), h.subTenantFrame(c, path, "billing"), data))
}

// billToPicker is the bill-to choice of a form: the company chosen (none
// when it is not one of the platform's) and, when searched, the companies
// matching query but exceptID (the company whose bill it is).
func (h *Handlers) billToPicker(c echo.Context, exceptID, chosen int64, query string, searched bool) (pages.BillToPicker, error) {
	p := pages.BillToPicker{Query: query, Searched: searched}
	var err error
	p.Chosen, p.Matches, err = h.store.BillToChoices(c.Request().Context(), stateOf(c).tenant.ID, exceptID, chosen, query, searched)
	return p, err
}

// formID reads an optional id of a form or query; anything else is 0.
func formID(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func idOf(c *models.BillToCandidate) int64 {
	if c == nil {
		return 0
	}
	return c.ID
}

func idOrZero(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}
