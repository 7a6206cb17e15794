package handlers

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/components"
	"canopy/views/pages"
)

// Billing pages: a company's Settings → Billing with its statements, and
// platform staff's ⚙ → Billing with any company's. The rule of who sees
// prices is the store's (models/billing_view.go): a company that pays sees
// its statement, every company billed to it included; a company billed to
// another sees its own usage, stripped of money here before any page or
// CSV is made of it.

// billing is Settings → Billing.
func (h *Handlers) billing(c echo.Context) error {
	rs := stateOf(c)
	d, err := h.billingData(c, rs.tenant, pages.BillingLinks{})
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.Billing(h.shell(c, "Billing", "settings"), d))
}

// billingStatement is one month of the company's billing, to print.
func (h *Handlers) billingStatement(c echo.Context) error {
	d, err := h.statementData(c, stateOf(c).tenant, pages.BillingLinks{})
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.BillingStatement(h.shell(c, "Billing", "settings"), d))
}

// billingStatementCSV is the same month as CSV.
func (h *Handlers) billingStatementCSV(c echo.Context) error {
	d, err := h.statementData(c, stateOf(c).tenant, pages.BillingLinks{})
	if err != nil {
		return err
	}
	return writeStatementCSV(c, d)
}

// billingData reads a company's overview as the company sees it: without
// money when it is billed to another, nothing when it has no terms.
func (h *Handlers) billingData(c echo.Context, t *models.Tenant, links pages.BillingLinks) (pages.BillingData, error) {
	d := pages.BillingData{Company: t, Links: links}
	o, err := h.store.BillingOverviewOf(c.Request().Context(), t, h.now())
	switch {
	case errors.Is(err, models.ErrNoBillingTerms):
		return d, nil
	case err != nil:
		return d, err
	}
	if !o.PaysItself {
		o = o.UsageOnly()
		if links.Staff() {
			d.PayerLink = views.StaffBillingCompanyPath(o.PayerID)
		}
	}
	d.Overview = o
	return d, nil
}

// statementData reads the month the path names as the company sees it; a
// month written otherwise than "2026-11" is not found.
func (h *Handlers) statementData(c echo.Context, t *models.Tenant, links pages.BillingLinks) (pages.BillingStatementData, error) {
	raw := c.Param("month")
	month, err := models.ParseBillingMonth(raw)
	if err != nil || string(month) != raw {
		return pages.BillingStatementData{}, errNotFound
	}
	st, err := h.store.BillingMonthOf(c.Request().Context(), t, month, h.now())
	if err != nil {
		return pages.BillingStatementData{}, err
	}
	d := pages.BillingStatementData{Company: t, Statement: st, PaysItself: st.PayerID == t.ID, Links: links}
	if !d.PaysItself {
		d.Statement = st.UsageOnly()
	}
	return d, nil
}

// writeStatementCSV sends a statement as CSV: for the company that pays,
// a row per line of each company with its figures and amounts as plain
// decimals, each company's subtotal and the totals per currency; for a
// company billed to another, its own usage alone, without a money column.
func writeStatementCSV(c echo.Context, d pages.BillingStatementData) error {
	st := d.Statement
	kind := "usage"
	if d.PaysItself {
		kind = "statement"
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+kind+`-`+d.Company.Subdomain+`-`+string(st.Month)+`.csv"`)
	res.Header().Set("Cache-Control", "no-store")
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	for _, record := range statementRecords(d) {
		for i := range record {
			record[i] = csvSafe(record[i])
		}
		if err := w.Write(record); err != nil {
			return nil // the client went away; the response has started
		}
	}
	w.Flush()
	return nil
}

// statementRecords are the CSV's rows, its heading first.
func statementRecords(d pages.BillingStatementData) [][]string {
	st := d.Statement
	if !d.PaysItself {
		out := [][]string{{"Company", "Meter", "Quantity"}}
		for _, sec := range st.Sections {
			for _, m := range sec.Usage.Meters() {
				out = append(out, []string{sec.CompanyName, m.Label, m.Text()})
			}
		}
		return out
	}
	out := [][]string{{"Company", "Meter", "Quantity", "Included", "Billable", "Unit price", "Amount", "Currency"}}
	subtotal, total := "Subtotal", "Total"
	if !st.Closed() {
		subtotal, total = "Subtotal to date", "Total to date"
	}
	for _, sec := range st.Sections {
		for _, l := range sec.Lines {
			out = append(out, []string{sec.CompanyName, l.Label, l.QuantityText(), l.IncludedText(), l.BillableText(),
				models.FormatAmount(l.UnitPrice, sec.Currency), models.FormatAmount(l.Amount, sec.Currency), sec.Currency})
		}
		out = append(out, []string{sec.CompanyName, subtotal, "", "", "", "", models.FormatAmount(sec.Subtotal, sec.Currency), sec.Currency})
	}
	for _, t := range st.Totals {
		out = append(out, []string{"All companies", total, "", "", "", "", models.FormatAmount(t.Amount, t.Currency), t.Currency})
	}
	if !st.Closed() {
		for _, t := range st.ProjectedTotals {
			out = append(out, []string{"All companies", "Projected total", "", "", "", "", models.FormatAmount(t.Amount, t.Currency), t.Currency})
		}
	}
	return out
}

// staffBilling is platform staff's ⚙ → Billing: the companies that pay,
// searched by name or subdomain and sorted by a column.
func (h *Handlers) staffBilling(c echo.Context) error {
	query := strings.TrimSpace(c.QueryParam("q"))
	if len(query) > 100 {
		query = query[:100]
	}
	sort := c.QueryParam("sort")
	if !slices.Contains(models.BillingProjectionSorts, sort) {
		sort = models.BillingProjectionSorts[0]
	}
	page, err := h.store.BillingProjections(c.Request().Context(), query, sort,
		models.ParsePage(c.QueryParam("page"), models.BillingProjectionPageSize))
	if err != nil {
		return err
	}
	d := pages.StaffBillingData{Page: page, Query: query, Sort: sort, Month: models.MonthOf(h.now(), time.UTC)}
	return h.render(c, http.StatusOK, pages.StaffBilling(h.shell(c, "Billing", "billing"), d))
}

// refreshWait is how long Refresh now waits for the figures before it
// answers that they are still being computed.
const refreshWait = 5 * time.Second

// refreshBilling prices every paying company's month so far again, for
// staff's list, instead of waiting for the closing job. It runs apart from
// the request (its own transactions, one per company: minutes for many
// thousands of companies), one refresh at a time; the page answers when it
// is done or after refreshWait, whichever comes first.
func (h *Handlers) refreshBilling(c echo.Context) error {
	if !h.refreshing.CompareAndSwap(false, true) {
		h.flash(c, "success", "The figures are being refreshed already. Reload the page in a moment.")
		return c.Redirect(http.StatusSeeOther, views.StaffBillingPath)
	}
	type outcome struct {
		n   int
		err error
	}
	done := make(chan outcome, 1)
	log := h.logFor(c) // c is not the goroutine's to read: it may outlive the request
	go func() {
		defer h.refreshing.Store(false)
		n, err := h.store.RefreshBillingProjections(context.Background(), h.now())
		if err != nil {
			log.Error("refresh billing figures", "err", err)
		}
		done <- outcome{n, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			return o.err
		}
		h.flash(c, "success", "Figures refreshed for "+components.CountLabel(int64(o.n), "company", "companies")+" that pay.")
	case <-time.After(refreshWait):
		h.flash(c, "success", "The figures are being refreshed; with many companies it takes a few minutes. Reload the page to see them.")
	}
	return c.Redirect(http.StatusSeeOther, views.StaffBillingPath)
}

// staffBillingCompany is a company's billing as it sees it, for staff.
func (h *Handlers) staffBillingCompany(c echo.Context) error {
	t, err := h.staffCompany(c)
	if err != nil {
		return err
	}
	d, err := h.billingData(c, t, pages.BillingLinks{StaffCompanyID: t.ID})
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.Billing(h.shell(c, "Billing", "billing"), d))
}

// staffBillingStatement is a company's month, for staff.
func (h *Handlers) staffBillingStatement(c echo.Context) error {
	t, err := h.staffCompany(c)
	if err != nil {
		return err
	}
	d, err := h.statementData(c, t, pages.BillingLinks{StaffCompanyID: t.ID})
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.BillingStatement(h.shell(c, "Billing", "billing"), d))
}

// staffBillingStatementCSV is a company's month as CSV, for staff.
func (h *Handlers) staffBillingStatementCSV(c echo.Context) error {
	t, err := h.staffCompany(c)
	if err != nil {
		return err
	}
	d, err := h.statementData(c, t, pages.BillingLinks{StaffCompanyID: t.ID})
	if err != nil {
		return err
	}
	return writeStatementCSV(c, d)
}

// staffCompany is the company the path names, which must be below the
// platform whose host this is: anything else is not found.
func (h *Handlers) staffCompany(c echo.Context) (*models.Tenant, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return h.store.SubTenantOf(c.Request().Context(), stateOf(c).tenant.ID, id)
}
