package handlers

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// A company's billing terms, on platform staff's Billing tab of its
// details (platformRoutes, for a company at any depth): its plan and the
// company it is billed to, changed from its next month.

// subTenantBilling shows the tab. Its bill-to search (?q=) reloads it with
// the plan and company chosen kept in the address (?plan_id=, ?bill_to=).
func (h *Handlers) subTenantBilling(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	q := c.QueryParams()
	var form pages.TermsForm
	var billTo int64
	latest, err := h.store.LatestBillingTerms(c.Request().Context(), child.ID)
	switch {
	case errors.Is(err, models.ErrNotFound):
	case err != nil:
		return err
	default:
		form.PlanID, billTo = latest.PlanID, idOrZero(latest.BillToTenantID)
	}
	if q.Has("plan_id") {
		form.PlanID = formID(q.Get("plan_id"))
	}
	if q.Has("bill_to") {
		billTo = formID(q.Get("bill_to"))
	}
	if form.Picker, err = h.billToPicker(c, child.ID, billTo, q.Get("q"), q.Has("q")); err != nil {
		return err
	}
	return h.renderSubTenantBilling(c, path, http.StatusOK, form)
}

// changeSubTenantBilling sets the company's terms from its next month
// (Store.ChangeBillingTerms, audited there); a bill-to chain that would
// come back to the company is refused beside the field.
func (h *Handlers) changeSubTenantBilling(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	ctx := c.Request().Context()
	form := pages.TermsForm{PlanID: formID(c.FormValue("plan_id"))}
	billTo := formID(c.FormValue("bill_to"))
	if form.Picker, err = h.billToPicker(c, child.ID, billTo, "", false); err != nil {
		return err
	}
	if billTo != 0 && form.Picker.Chosen == nil {
		form.Picker.Error = "Choose a company from the list."
		return h.renderSubTenantBilling(c, path, http.StatusUnprocessableEntity, form)
	}
	if same, err := h.termsUnchanged(c, child.ID, form.PlanID, billTo); err != nil || same {
		if err == nil {
			h.flash(c, "info", "Nothing changed: these are "+child.Name+"'s terms already.")
			return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "billing"))
		}
		return err
	}
	terms, err := h.store.ChangeBillingTerms(ctx, child.ID, form.PlanID, billTo)
	if fieldErrors(err, &form.Errors) {
		form.Picker.Error = form.Errors["bill_to"]
		return h.renderSubTenantBilling(c, path, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	plan, err := h.store.BillingPlanByID(ctx, terms.PlanID)
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

// termsUnchanged tells whether the terms chosen are the company's latest
// already, which a change would only repeat.
func (h *Handlers) termsUnchanged(c echo.Context, tenantID, planID, billTo int64) (bool, error) {
	latest, err := h.store.LatestBillingTerms(c.Request().Context(), tenantID)
	if errors.Is(err, models.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return latest.PlanID == planID && idOrZero(latest.BillToTenantID) == billTo, nil
}

func (h *Handlers) renderSubTenantBilling(c echo.Context, path models.TreePath, status int, form pages.TermsForm) error {
	ctx := c.Request().Context()
	child := path.Target()
	data := pages.SubTenantBillingData{Month: models.MonthOf(h.now(), child.Location()), BillTo: map[int64]string{}, Form: form}
	var err error
	if data.Current, err = h.store.BillingTermsAt(ctx, child.ID, data.Month); errors.Is(err, models.ErrNotFound) {
		data.Current = nil
	} else if err != nil {
		return err
	}
	latest, err := h.store.LatestBillingTerms(ctx, child.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if err == nil && latest.EffectiveMonth > data.Month {
		data.Scheduled = latest
	}
	if err := h.loadTermsPlans(c, &data); err != nil {
		return err
	}
	if err := h.loadTermsCompanies(c, child.ID, &data); err != nil {
		return err
	}
	return h.render(c, status, pages.SubTenantBilling(h.shell(c, child.Name, "sub-tenants"), h.subTenantFrame(c, path, "billing"), data))
}

// loadTermsPlans gives the tab every plan by id, and the plans the form
// offers: those offered to all, and the company's current plan even when
// it is archived (it may stay on it). With no plan chosen, the default is.
func (h *Handlers) loadTermsPlans(c echo.Context, data *pages.SubTenantBillingData) error {
	plans, err := h.store.BillingPlans(c.Request().Context(), true)
	if err != nil {
		return err
	}
	data.Plans = make(map[int64]*models.BillingPlan, len(plans))
	for i := range plans {
		p := &plans[i]
		data.Plans[p.ID] = p
		if !p.Archived() || (data.Current != nil && data.Current.PlanID == p.ID) {
			data.Offered = append(data.Offered, *p)
		}
		if data.Form.PlanID == 0 && p.IsDefault {
			data.Form.PlanID = p.ID
		}
	}
	return nil
}

// loadTermsCompanies names the companies the terms are billed to, and the
// one paying this month when the chain goes on past the company billed.
func (h *Handlers) loadTermsCompanies(c echo.Context, tenantID int64, data *pages.SubTenantBillingData) error {
	ctx := c.Request().Context()
	platformID := stateOf(c).tenant.ID
	name := func(id int64) (string, error) {
		if n, ok := data.BillTo[id]; ok {
			return n, nil
		}
		company, err := h.store.BillToCandidateByID(ctx, platformID, id)
		if err != nil {
			return "", err
		}
		data.BillTo[id] = company.Name
		return company.Name, nil
	}
	for _, t := range []*models.BillingTerms{data.Current, data.Scheduled} {
		if t == nil || t.BillToTenantID == nil {
			continue
		}
		if _, err := name(*t.BillToTenantID); err != nil {
			return err
		}
	}
	if data.Current == nil || data.Current.BillToTenantID == nil {
		return nil
	}
	payer, err := h.store.BillingPayer(ctx, tenantID, data.Month)
	if errors.Is(err, models.ErrNotFound) || (err == nil && payer == *data.Current.BillToTenantID) {
		return nil
	}
	if err != nil {
		return err
	}
	data.PayerName, err = name(payer)
	return err
}

// billToPicker is the bill-to choice of a form: the company chosen (none
// when it is not one of the platform's), and when searched, the companies
// matching query but exceptID (the company whose bill it is).
func (h *Handlers) billToPicker(c echo.Context, exceptID, chosen int64, query string, searched bool) (pages.BillToPicker, error) {
	ctx := c.Request().Context()
	platformID := stateOf(c).tenant.ID
	p := pages.BillToPicker{Query: query, Searched: searched}
	if chosen != 0 {
		company, err := h.store.BillToCandidateByID(ctx, platformID, chosen)
		switch {
		case errors.Is(err, models.ErrNotFound):
		case err != nil:
			return p, err
		default:
			p.Chosen = company
		}
	}
	if !searched {
		return p, nil
	}
	var err error
	p.Matches, err = h.store.BillToCandidates(ctx, platformID, exceptID, query)
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

func idOrZero(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}
