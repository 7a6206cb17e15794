package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

func TestAuditLogShowsChanges(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := a.tenant("acme")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	team := tenantURL("acme", "/settings/team")

	// Alice adds carol (an active user: she joins at once) and creates a sub-tenant.
	r := alice.submit(tenantURL("acme", "/settings/team/new"), team, url.Values{"first_name": {"Carol"}, "last_name": {"Chen"}, "email": {"carol@initech.test"}, "role": {"viewer"}})
	wantStatus(t, r, http.StatusSeeOther)
	form := subTenantForm("Acme Asia", "acme-asia", "owner@asia.example")
	form.Set("confirmed", "yes")
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form), http.StatusSeeOther)

	// Bob (Admin) re-roles dave.
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	dave, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("dave@acme.test").ID)
	wantStatus(t, bob.submit(team, tenantURL("acme", "/settings/team/members/"+num(dave.ID)+"/edit"), url.Values{"role": {"editor"}}), http.StatusSeeOther)

	// Eve deprovisions a device of her company, acme's child Acme Europe.
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	d := a.device("acme-eu", "EU-TL100-0001")
	wantStatus(t, eve.submit(tenantURL("acme-eu", "/devices"), tenantURL("acme-eu", "/devices/"+num(d.ID)+"/deprovision"), url.Values{}), http.StatusSeeOther)

	audit := tenantURL("acme", "/settings/audit")
	page := alice.get(audit)
	wantStatus(t, page, http.StatusOK)
	rows := tableOf(page)
	for _, want := range []string{
		"Member added", "carol@initech.test",
		"Member role changed", "dave@acme.test", "bob@globex.test", "role:", "<del>viewer</del>", "<ins>editor</ins>",
		"Company created", "Acme Asia",
		"Device deprovisioned", "EU-TL100-0001", "eve@acme.test", "Acme Europe",
	} {
		if !strings.Contains(rows, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	wantBody(t, page, `<th scope="col">Company</th>`, `href="/settings/audit.csv"`)

	// Filters: action, actor, dates (in the company's timezone).
	only := func(b *browser, q url.Values) string {
		t.Helper()
		r := b.get(audit + "?" + q.Encode())
		wantStatus(t, r, http.StatusOK)
		return tableOf(r)
	}
	if got := only(alice, url.Values{"action": {models.AuditMemberRoleChanged}}); !strings.Contains(got, "dave@acme.test") || strings.Contains(got, "carol@initech.test") || strings.Contains(got, "EU-TL100-0001") {
		t.Errorf("action filter:\n%s", got)
	}
	if got := only(alice, url.Values{"actor": {"EVE@"}}); !strings.Contains(got, "EU-TL100-0001") || strings.Contains(got, "carol@initech.test") || strings.Contains(got, "dave@acme.test") {
		t.Errorf("actor filter:\n%s", got)
	}
	today := time.Now().In(acme.Location())
	if got := only(alice, url.Values{"from": {today.Format("2006-01-02")}, "to": {today.Format("2006-01-02")}}); !strings.Contains(got, "carol@initech.test") {
		t.Errorf("today's events missing:\n%s", got)
	}
	future := alice.get(audit + "?from=" + today.AddDate(0, 0, 2).Format("2006-01-02"))
	wantBody(t, future, "No events match these filters")
	wantBody(t, alice.get(audit+"?from=2026-02-10&to=2026-02-01"), "Choose a date on or after 2026-02-10")
	wantBody(t, alice.get(audit+"?from=yesterday"), "Enter a date as YYYY-MM-DD")

	// An Admin sees acme's own events only: no Company column, no child's.
	bobPage := bob.get(audit)
	wantStatus(t, bobPage, http.StatusOK)
	if rows := tableOf(bobPage); !strings.Contains(rows, "carol@initech.test") || strings.Contains(rows, "EU-TL100-0001") || strings.Contains(bobPage.body, `<th scope="col">Company</th>`) {
		t.Errorf("admin's audit log:\n%s", rows)
	}

	// Globex's Super Admin (bob owns Globex) sees nothing of acme's.
	bobGlobex := a.browser()
	bobGlobex.signIn("bob@globex.test", "globex")
	g := bobGlobex.get(tenantURL("globex", "/settings/audit"))
	wantStatus(t, g, http.StatusOK)
	for _, leak := range []string{"carol@initech.test", "Acme Asia", "EU-TL100-0001", "dave@acme.test"} {
		if strings.Contains(g.body, leak) {
			t.Errorf("globex's audit log shows acme's %q", leak)
		}
	}
	if csvBody := bobGlobex.get(tenantURL("globex", "/settings/audit.csv")).body; strings.Contains(csvBody, "carol@initech.test") || strings.Contains(csvBody, "Acme") {
		t.Errorf("globex's export shows acme's events:\n%s", csvBody)
	}
	// Acme Europe's own Super Admin does not see its parent's events.
	if body := eve.get(tenantURL("acme-eu", "/settings/audit")).body; strings.Contains(body, "carol@initech.test") || !strings.Contains(body, "EU-TL100-0001") {
		t.Errorf("acme-eu's audit log:\n%s", excerpt(tableOf(response{body: body})))
	}
}

func TestAuditCSVExport(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := a.tenant("acme")
	ctx := models.WithActor(context.Background(), models.Actor{Email: "=evil@acme.test", IP: "198.51.100.1"})
	if _, err := a.store.CreateTemplate(ctx, acme.ID, 0, models.NewTemplate{Name: "=HYPERLINK(\"http://evil.example\")", BrandingCompanyName: "Acme", Collects: []string{"income"}}); err != nil {
		t.Fatal(err)
	}
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := alice.get(tenantURL("acme", "/settings/audit.csv?action=template.created&actor=%3Devil"))
	wantStatus(t, r, http.StatusOK)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, ".csv") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.body)
	}
	if got := strings.Join(records[0], ","); got != "Time,Company,Actor,Action,Target type,Target ID,Target,Before,After,IP" {
		t.Fatalf("header %q", got)
	}
	if len(records) != 2 {
		t.Fatalf("%d records, want the header and one event:\n%s", len(records), r.body)
	}
	row := records[1]
	if row[1] != "Acme Corp" || row[2] != "'=evil@acme.test" || row[3] != "template.created" || row[6] != `'=HYPERLINK("http://evil.example")` || row[9] != "198.51.100.1" {
		t.Fatalf("row %q", row)
	}
	if !strings.Contains(row[8], `"name":"=HYPERLINK`) {
		t.Fatalf("after %q", row[8])
	}
	// The same filters as the page: an action with no events exports only the header.
	if rec, _ := csv.NewReader(strings.NewReader(alice.get(tenantURL("acme", "/settings/audit.csv?action=order.created&from=2001-01-01&to=2001-01-02")).body)).ReadAll(); len(rec) != 1 {
		t.Fatalf("filtered export has %d records", len(rec))
	}
}

func TestAuditLogIsForAdmins(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser() // Viewer in acme
	dave.signIn("dave@acme.test", "acme")
	wantStatus(t, dave.get(tenantURL("acme", "/settings/audit")), http.StatusForbidden)
	wantStatus(t, dave.get(tenantURL("acme", "/settings/audit.csv")), http.StatusForbidden)
	if strings.Contains(dave.get(tenantURL("acme", "/settings/team")).body, `href="/settings/audit"`) {
		t.Error("a viewer is shown the Audit log tab")
	}
	editor := a.browser() // alice is an Editor in Globex
	editor.signIn("alice@acme.test", "globex")
	wantStatus(t, editor.get(tenantURL("globex", "/settings/audit")), http.StatusForbidden)
	wantStatus(t, editor.get(tenantURL("globex", "/settings/audit.csv")), http.StatusForbidden)

	admin := a.browser()
	admin.signIn("alice@acme.test", "acme")
	wantBody(t, admin.get(tenantURL("acme", "/settings/company")), `href="/settings/audit"`)
}

func TestAuditRecordsSignIns(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := a.tenant("acme")
	wrong := a.browser()
	form := url.Values{"email": {"alice@acme.test"}, "password": {"not-the-password"}, "tenant": {"acme"}}
	wantStatus(t, wrong.submit(base+"/login?tenant=acme", base+"/login", form), http.StatusUnauthorized)
	// Strangers and non-members cannot write into acme's log by naming it.
	for _, email := range []string{"nobody@example.com", "carol@initech.test"} {
		stranger := url.Values{"email": {email}, "password": {"guess-guess"}, "tenant": {"acme"}}
		wantStatus(t, a.browser().submit(base+"/login?tenant=acme", base+"/login", stranger), http.StatusUnauthorized)
	}
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	// Switching to Globex is entering it.
	wantStatus(t, alice.follow(alice.get(tenantURL("acme", "/go/globex"))), http.StatusOK)

	events := func(tenantID int64, action string) []models.AuditRow {
		page, err := a.store.AuditLog(context.Background(), tenantID, false, models.AuditFilter{Action: action}, models.PageRequest{Number: 1, Size: 10})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	failed := events(acme.ID, models.AuditSignInFailed)
	if len(failed) != 1 || failed[0].ActorEmail != "alice@acme.test" || failed[0].ActorUserID != nil || failed[0].IP == "" {
		t.Fatalf("failed sign-ins on acme: %+v", failed)
	}
	signIns := events(acme.ID, models.AuditSignIn)
	if len(signIns) != 1 || signIns[0].ActorEmail != "alice@acme.test" || signIns[0].IP == "" {
		t.Fatalf("sign-ins on acme: %+v", signIns)
	}
	if entered := events(acme.ID, models.AuditCompanyEntered); len(entered) != 1 || entered[0].ActorUserID == nil || *entered[0].ActorUserID != a.user("alice@acme.test").ID {
		t.Fatalf("acme entered: %+v", entered)
	}
	if entered := events(a.tenant("globex").ID, models.AuditCompanyEntered); len(entered) != 1 || entered[0].ActorEmail != "alice@acme.test" {
		t.Fatalf("globex entered: %+v", entered)
	}
}
