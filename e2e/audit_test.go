package e2e

import (
	"net/http"
	"testing"
)

func TestAuditLogPage(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for name, size := range map[string]viewport{"desktop": desktop, "phone": phone} {
		tab := newTab(t, browser, size)
		signIn(t, tab, a, "acme", "alice@acme.test")
		wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/audit")), http.StatusOK)
		wantText(t, tab, "Audit log", "Export CSV", "Company created", "Acme Europe")
		wantNoSideways(t, tab)
		screenshot(t, tab, "audit-"+name+".png")
		// Filtered to one action: the dropdown keeps the choice.
		wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/audit?action=device.deprovisioned")), http.StatusOK)
		wantText(t, tab, "Device deprovisioned", "deprovisioned")
		wantNoSideways(t, tab)
		screenshot(t, tab, "audit-filtered-"+name+".png")
	}
}
