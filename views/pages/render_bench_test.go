package pages_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// The render benchmarks measure the heaviest pages' templ rendering alone,
// without a database: each page is built from the same
// view-models its handler passes, at full size, and written to io.Discard.
//
//	go test ./views/pages/ -run '^$' -bench Render -benchtime=200x

// renderCase is one page as its handler would render it.
type renderCase struct {
	name string
	page templ.Component
	want []string // what the page must show, so the benchmark renders the real thing
}

func renderCases() []renderCase {
	return []renderCase{
		{"Home500Companies", homePage(500), []string{"Welcome back, Alice", "See all 500 companies", "Guard Company 019"}},
		{"DevicesFullPage", devicesPage(), []string{"1–25 of 200,000", "DEV-0000024", "Deprovision"}},
		{"SubTenantsFullPage", subTenantsPage(), []string{"1–25 of 10,000", "Sub-Tenant 00024"}},
		{"TeamFullPage", teamPage(), []string{"1–25 of 120", "member-019@acme.test", "invitee-004@acme.test"}},
		{"AuditLogFullPage", auditPage(), []string{"1–50 of 5,000", "Acme Europe", "actor-49@acme.test"}},
	}
}

func BenchmarkRender(b *testing.B) {
	ctx := context.Background()
	for _, rc := range renderCases() {
		b.Run(rc.name, func(b *testing.B) {
			var size countingWriter
			if err := rc.page.Render(ctx, &size); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := rc.page.Render(ctx, io.Discard); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "html-bytes")
		})
	}
}

// TestRenderBenchmarkPages keeps the benchmarks honest: each page renders
// and shows its full list, not an error or an empty state.
func TestRenderBenchmarkPages(t *testing.T) {
	for _, rc := range renderCases() {
		t.Run(rc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := rc.page.Render(context.Background(), &buf); err != nil {
				t.Fatal(err)
			}
			for _, w := range rc.want {
				if !strings.Contains(buf.String(), w) {
					t.Fatalf("page lacks %q", w)
				}
			}
		})
	}
}

type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}

var (
	benchNow   = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	platformID = int64(1)
	aliceID    = int64(2)
)

func acme() *models.Tenant {
	return &models.Tenant{
		ID: 2, ParentID: &platformID, Name: "Acme Corp", Subdomain: "acme", Description: "Cold-chain logistics for pharmaceuticals.",
		ContactEmail: "alice@acme.test", Timezone: "America/New_York", Status: models.TenantActive, OwnerUserID: &aliceID,
		CreatedAt: benchNow.AddDate(-1, 0, 0), UpdatedAt: benchNow.AddDate(0, -1, 0),
	}
}

func alice() *models.User {
	return &models.User{ID: aliceID, Email: "alice@acme.test", FirstName: "Alice", LastName: "Anderson", Status: models.UserActive, SessionVersion: 1}
}

// companies is the toggle of a user in n companies, the current one first.
func companies(n int) []models.Company {
	list := []models.Company{{ID: 2, Name: "Acme Corp", Subdomain: "acme", OwnerEmail: "alice@acme.test", MemberCount: 120}}
	for i := 1; i < n; i++ {
		list = append(list, models.Company{
			ID: int64(100 + i), Name: fmt.Sprintf("Guard Company %03d", i), Subdomain: fmt.Sprintf("guard-co-%03d", i),
			OwnerEmail: fmt.Sprintf("owner-%03d@example.com", i), MemberCount: int64(i%40 + 1),
		})
	}
	return list
}

// shell is what handlers.shell gives a Super Admin of Acme in n companies:
// a toggle of the first models.ToggleSize of them.
func shell(title, nav, path string, n int) views.Shell {
	return views.Shell{
		Title: title, CSRF: strings.Repeat("c", 43), User: alice(), Tenant: acme(), Role: models.RoleSuperAdmin,
		Nav: nav, TenantURL: "http://acme.localhost:8080/", TenantHost: "acme.localhost:8080", HomeHref: "/",
		OwnerEmail: "alice@acme.test", Companies: companies(min(n, models.ToggleSize)), CompanyCount: int64(n),
		Path: path, SignOutPath: "/logout",
	}
}

func homePage(n int) templ.Component {
	parent := &models.Tenant{ID: platformID, Name: "Canopy Platform", Subdomain: "admin", Timezone: "UTC", Status: models.TenantActive}
	setup := models.Setup{Members: 120, HasTemplates: true, HasUnbrandedTemplate: true}
	return pages.Home(shell("Home", "home", "/", n), pages.HomeData{MemberCount: setup.Members, Setup: setup, Parent: parent})
}

func devicesPage() templ.Component {
	statuses := []models.DeviceStatus{models.DeviceActive, models.DeviceInactive, models.DeviceDeprovisioned}
	page := models.Page[models.Device]{PageRequest: models.PageRequest{Number: 1, Size: models.DevicePageSize}, Total: 200000}
	for i := range models.DevicePageSize {
		d := models.Device{
			ID: int64(200000 - i), TenantID: 2, Identifier: fmt.Sprintf("DEV-%07d", i), Model: "Cold-chain sensor CX-" + fmt.Sprint(i%9),
			Status: statuses[i%len(statuses)], CreatedAt: benchNow.Add(-time.Duration(i) * time.Hour), UpdatedAt: benchNow,
		}
		if d.Deprovisioned() {
			at := benchNow.Add(-time.Duration(i) * time.Minute)
			d.DeprovisionedAt = &at
		}
		page.Items = append(page.Items, d)
	}
	data := pages.DevicesData{Owner: acme(), Base: "/devices", Page: page, CanEdit: true, CanDeprovision: true}
	return pages.Devices(shell("Devices", "devices", "/devices", 3), data)
}

func subTenantsPage() templ.Component {
	page := models.Page[models.SubTenant]{PageRequest: models.PageRequest{Number: 1, Size: models.SubTenantPageSize}, Total: 10000}
	parent := int64(2)
	for i := range models.SubTenantPageSize {
		status := models.TenantActive
		if i%5 == 0 {
			status = models.TenantInactive
		}
		page.Items = append(page.Items, models.SubTenant{Tenant: models.Tenant{
			ID: int64(1000 + i), ParentID: &parent, Name: fmt.Sprintf("Sub-Tenant %05d", i), Subdomain: fmt.Sprintf("sub-%05d", i),
			Timezone: "Europe/Berlin", Status: status, CreatedAt: benchNow.AddDate(0, 0, -i), UpdatedAt: benchNow,
		}})
	}
	data := pages.SubTenantsData{Page: page, Labels: pages.SubTenantLabelsFor(acme())}
	return pages.SubTenants(shell(data.Labels.Plural, "sub-tenants", "/sub-tenants", 3), data)
}

func teamPage() templ.Component {
	roles := []models.Role{models.RoleViewer, models.RoleEditor, models.RoleAdmin, models.RoleSuperAdmin}
	page := models.Page[models.TeamRow]{PageRequest: models.PageRequest{Number: 1, Size: models.TeamPageSize}, Total: 120}
	page.Items = append(page.Items, models.TeamRow{Kind: "member", ID: 1, UserID: aliceID, FirstName: "Alice", LastName: "Anderson",
		Email: "alice@acme.test", Role: models.RoleSuperAdmin, Status: "active", CreatedAt: benchNow.AddDate(-1, 0, 0)})
	for i := range 19 {
		page.Items = append(page.Items, models.TeamRow{Kind: "member", ID: int64(10 + i), UserID: int64(10 + i),
			FirstName: "Member", LastName: fmt.Sprintf("%03d", i), Email: fmt.Sprintf("member-%03d@acme.test", i+1),
			Role: roles[i%len(roles)], Status: "active", CreatedAt: benchNow.AddDate(0, 0, -i)})
	}
	for i := range 5 {
		expires := benchNow.AddDate(0, 0, 7)
		status := "invited"
		if i == 4 {
			status = "declined"
		}
		page.Items = append(page.Items, models.TeamRow{Kind: "invitation", ID: int64(500 + i), FirstName: "Invitee", LastName: fmt.Sprint(i),
			Email: fmt.Sprintf("invitee-%03d@acme.test", i), Role: roles[i%3], Status: status, CreatedAt: benchNow, ExpiresAt: &expires})
	}
	data := pages.TeamData{Page: page, ActorUserID: aliceID, ActorRole: models.RoleSuperAdmin, OwnerUserID: aliceID,
		Assignable: models.AssignableRoles(models.RoleSuperAdmin)}
	return pages.Team(shell("Settings", "settings", "/settings/team", 3), data)
}

func auditPage() templ.Component {
	actions := []string{models.AuditMemberRoleChanged, models.AuditDeviceStatusChanged, models.AuditOrderCreated, models.AuditSignIn, models.AuditSettingsSaved}
	before, after := `{"role":"viewer","status":"active"}`, `{"role":"editor","status":"inactive"}`
	page := models.Page[models.AuditRow]{PageRequest: models.PageRequest{Number: 1, Size: models.AuditPageSize}, Total: 5000}
	for i := range models.AuditPageSize {
		uid := int64(10 + i)
		row := models.AuditRow{TenantName: "Acme Corp", AuditEvent: models.AuditEvent{
			ID: int64(5000 - i), TenantID: 2, ActorUserID: &uid, ActorEmail: fmt.Sprintf("actor-%d@acme.test", i),
			Action: actions[i%len(actions)], TargetType: "user", TargetID: fmt.Sprint(100 + i), TargetLabel: fmt.Sprintf("target-%d@acme.test", i),
			Before: &before, After: &after, IP: "203.0.113.7", CreatedAt: benchNow.Add(-time.Duration(i) * time.Minute),
		}}
		if i%3 == 0 {
			row.TenantName, row.TenantID = "Acme Europe", 5
		}
		page.Items = append(page.Items, row)
	}
	data := pages.AuditData{Page: page, Filter: pages.AuditFilterForm{Errors: map[string]string{}}, ShowCompany: true}
	return pages.AuditLog(shell("Audit log", "settings", "/settings/audit", 3), data)
}
