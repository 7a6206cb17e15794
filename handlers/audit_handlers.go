package handlers

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// auditLog is Settings → Audit log: the company's events, newest first,
// filtered by actor, action and dates. The parent's Super Admins also see
// their direct sub-tenants' events.
func (h *Handlers) auditLog(c echo.Context) error {
	rs := stateOf(c)
	form, filter := h.auditFilter(c)
	withChildren := rs.membership.Role.Can(models.PermManageSubTenants)
	page, err := h.store.AuditLog(c.Request().Context(), rs.tenant.ID, withChildren, filter,
		models.ParsePage(c.QueryParam("page"), models.AuditPageSize))
	if err != nil {
		return err
	}
	data := pages.AuditData{Page: page, Filter: form, ShowCompany: withChildren}
	return h.render(c, http.StatusOK, pages.AuditLog(h.shell(c, "Audit log", "settings"), data))
}

// auditCSV downloads the events the same filters select, as CSV.
func (h *Handlers) auditCSV(c echo.Context) error {
	rs := stateOf(c)
	_, filter := h.auditFilter(c)
	withChildren := rs.membership.Role.Can(models.PermManageSubTenants)
	rows, err := h.store.AuditExport(c.Request().Context(), rs.tenant.ID, withChildren, filter)
	if err != nil {
		return err
	}
	loc := rs.tenant.Location()
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="audit-`+rs.tenant.Subdomain+`-`+h.now().In(loc).Format("2006-01-02")+`.csv"`)
	res.Header().Set("Cache-Control", "no-store")
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	_ = w.Write([]string{"Time", "Company", "Actor", "Action", "Target type", "Target ID", "Target", "Before", "After", "IP"})
	for _, e := range rows {
		record := []string{e.CreatedAt.In(loc).Format(time.RFC3339), e.TenantName, e.ActorEmail, e.Action,
			e.TargetType, e.TargetID, e.TargetLabel, deref(e.Before), deref(e.After), e.IP}
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

// csvSafe keeps a spreadsheet from running a cell as a formula: a value
// starting with = + - @ (or a tab or carriage return) gets a leading quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// auditFilter reads the filters from the query. Dates are days in the
// company's timezone: from its first instant up to the end of the To day. A
// value that cannot be used is reported beside its field and ignored.
func (h *Handlers) auditFilter(c echo.Context) (pages.AuditFilterForm, models.AuditFilter) {
	loc := stateOf(c).tenant.Location()
	form := pages.AuditFilterForm{
		Actor:  strings.TrimSpace(c.QueryParam("actor")),
		Action: c.QueryParam("action"),
		From:   strings.TrimSpace(c.QueryParam("from")),
		To:     strings.TrimSpace(c.QueryParam("to")),
		Errors: map[string]string{},
	}
	if len(form.Actor) > 254 {
		form.Actor = form.Actor[:254]
	}
	var f models.AuditFilter
	f.ActorEmail = form.Actor
	if form.Action != "" {
		if slices.ContainsFunc(models.AuditActions, func(a models.AuditAction) bool { return a.Key == form.Action }) {
			f.Action = form.Action
		} else {
			form.Errors["action"] = "Choose an action from the list."
		}
	}
	day := func(field, raw string) (time.Time, bool) {
		if raw == "" {
			return time.Time{}, false
		}
		d, err := time.ParseInLocation("2006-01-02", raw, loc)
		if err != nil {
			form.Errors[field] = "Enter a date as YYYY-MM-DD."
			return time.Time{}, false
		}
		return d, true
	}
	if d, ok := day("from", form.From); ok {
		f.From = d
	}
	if d, ok := day("to", form.To); ok {
		f.To = d.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		form.Errors["to"] = "Choose a date on or after " + form.From + "."
		f.To = time.Time{}
	}
	return form, f
}
