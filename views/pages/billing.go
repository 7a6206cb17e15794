package pages

import (
	"strconv"
	"strings"

	"canopy/models"
	"canopy/views"
)

// BillingLinks are where a billing page's links lead: the company's own
// Settings → Billing, or platform staff's view of a company.
type BillingLinks struct {
	StaffCompanyID int64 // 0 on the company's own pages
}

// Staff tells whether platform staff are looking.
func (l BillingLinks) Staff() bool { return l.StaffCompanyID != 0 }

// Overview is the company's billing overview.
func (l BillingLinks) Overview() string {
	if l.Staff() {
		return views.StaffBillingCompanyPath(l.StaffCompanyID)
	}
	return views.BillingPath
}

// Statement is a month's statement.
func (l BillingLinks) Statement(m models.BillingMonth) string {
	if l.Staff() {
		return views.StaffBillingCompanyPath(l.StaffCompanyID, "statements", string(m))
	}
	return views.BillingStatementPath(string(m))
}

// CSV is a month's statement as CSV.
func (l BillingLinks) CSV(m models.BillingMonth) string {
	if l.Staff() {
		return views.StaffBillingCompanyPath(l.StaffCompanyID, "statements", string(m), "csv")
	}
	return views.BillingStatementPath(string(m), "csv")
}

// BillingData is Settings → Billing, or platform staff's view of one
// company's billing.
type BillingData struct {
	Company *models.Tenant
	// Overview is nil for a company without billing terms (the platform);
	// for a company billed to another it holds no money (UsageOnly).
	Overview *models.BillingOverview
	Links    BillingLinks
	// PayerLink leads staff to the paying company's billing; "" otherwise.
	PayerLink string
}

// BillingStatementData is one month's statement page.
type BillingStatementData struct {
	Company   *models.Tenant
	Statement *models.BillingStatement // UsageOnly when the company is billed to another
	// PaysItself: the statement is the company's bill, with prices;
	// otherwise it is the company's own usage, billed to Statement.PayerName.
	PaysItself bool
	Links      BillingLinks
}

// StaffBillingData is platform staff's list of the companies that pay.
type StaffBillingData struct {
	Page  models.Page[models.BillingProjection]
	Query string
	Sort  string
	Month models.BillingMonth // the current month (UTC), to tell a stale list
}

// moneyList writes totals in several currencies on one line.
func moneyList(totals []models.MoneyTotal) string {
	if len(totals) == 0 {
		return models.FormatMoney(0, "USD")
	}
	parts := make([]string, len(totals))
	for i, t := range totals {
		parts[i] = models.FormatMoney(t.Amount, t.Currency)
	}
	return strings.Join(parts, " + ")
}

// unitPrice writes a line's price per unit: "$8.00 per seat-month".
func unitPrice(l models.BillingLine, currency string) string {
	unit := map[string]string{"base": "month", "devices": "device-month", "seats": "seat-month"}[l.Kind]
	if unit == "" {
		unit = "order"
	}
	return models.FormatMoney(l.UnitPrice, currency) + " / " + unit
}

// included writes what the plan included of a line; the base fee has no
// allowance.
func included(l models.BillingLine) string {
	if l.Kind == "base" {
		return "—"
	}
	return l.IncludedText()
}

// lineLabel names a line, saying how many of its orders came late from a
// month already closed.
func lineLabel(l models.BillingLine) string {
	if l.Kind == "base" {
		return "Base fee (share of the month)"
	}
	if l.Late > 0 {
		return l.Label + " (" + strconv.FormatInt(l.Late, 10) + " from a month already closed)"
	}
	return l.Label
}

// sectionNote says whose section it is beside its name.
func sectionNote(sec models.BillingSection, st *models.BillingStatement) string {
	var parts []string
	if sec.PlanName != "" {
		parts = append(parts, sec.PlanName+" plan")
	}
	switch {
	case sec.TenantID == st.PayerID:
		parts = append(parts, "pays for itself")
	case sec.BillToName != "":
		parts = append(parts, "billed to "+sec.BillToName)
	default: // a closed section keeps no chain: it was on the payer's bill
		parts = append(parts, "billed to "+st.PayerName)
	}
	return strings.Join(parts, " · ")
}

// projectedFor is the projection's headline: "Projected for November".
func projectedFor(m models.BillingMonth) string {
	return "Projected for " + strings.Fields(m.Label())[0]
}

// statementTitle is a statement page's heading.
func statementTitle(d BillingStatementData) string {
	if d.PaysItself {
		return "Statement · " + d.Statement.Month.Label()
	}
	return "Usage · " + d.Statement.Month.Label()
}

// companiesOnBill says who is on the bill.
func companiesOnBill(st *models.BillingStatement) string {
	n := st.BilledToIt()
	switch n {
	case 0:
		return "Only " + st.PayerName + " itself"
	case 1:
		return st.PayerName + " and 1 company billed to it"
	}
	return st.PayerName + " and " + strconv.Itoa(n) + " companies billed to it"
}

// asOf is the oldest moment among the list's figures: every row is at
// least as fresh.
func (d StaffBillingData) asOf() (t models.BillingProjection, ok bool) {
	for i, p := range d.Page.Items {
		if i == 0 || p.ComputedAt.Before(t.ComputedAt) {
			t, ok = p, true
		}
	}
	return t, ok
}

// stale tells whether the list's figures are of an earlier month.
func (d StaffBillingData) stale() bool {
	p, ok := d.asOf()
	return ok && p.Month < d.Month
}

// ordersByTemplate lists a month's orders per template: "Payroll 3, Audit 2".
func ordersByTemplate(u models.MonthUsage) string {
	parts := make([]string, len(u.Orders))
	for i, o := range u.Orders {
		parts[i] = o.TemplateName + " " + strconv.FormatInt(o.Completed, 10)
	}
	return strings.Join(parts, ", ")
}

// billedToIt counts the companies billed to a paying company, besides it.
func billedToIt(p models.BillingProjection) string {
	if p.Companies <= 1 {
		return "None"
	}
	n := int64(p.Companies - 1)
	if n == 1 {
		return "1 company"
	}
	return strconv.FormatInt(n, 10) + " companies"
}
