package models_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

// deviceWorld is the platform, Acme and Globex: two tenants whose devices
// must never mix.
type deviceWorld struct {
	world
	globex *models.Tenant
}

func newDeviceWorld(t *testing.T) deviceWorld {
	t.Helper()
	w := deviceWorld{world: newWorld(t)}
	bob := mustUser(t, w.store, "bob@globex.test")
	var err error
	w.globex, err = w.store.CreateTenant(context.Background(), models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustDevice(t *testing.T, store *models.Store, tenantID int64, identifier, model string) *models.Device {
	t.Helper()
	d, err := store.AddDevice(context.Background(), tenantID, models.NewDevice{Identifier: identifier, Model: model})
	if err != nil {
		t.Fatalf("add %s: %v", identifier, err)
	}
	return d
}

func listDevices(t *testing.T, store *models.Store, tenantID int64, q string, page models.PageRequest) models.Page[models.Device] {
	t.Helper()
	p, err := store.ListDevices(context.Background(), tenantID, q, page)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func identifiers(ds []models.Device) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Identifier
	}
	return out
}

func TestAddDeviceValidation(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		in    models.NewDevice
		field string
	}{
		{"missing identifier", models.NewDevice{Identifier: "  ", Model: "T-100"}, "identifier"},
		{"long identifier", models.NewDevice{Identifier: strings.Repeat("a", 65), Model: "T-100"}, "identifier"},
		{"space inside identifier", models.NewDevice{Identifier: "dev 1", Model: "T-100"}, "identifier"},
		{"slash in identifier", models.NewDevice{Identifier: "dev/1", Model: "T-100"}, "identifier"},
		{"quote in identifier", models.NewDevice{Identifier: `dev"1`, Model: "T-100"}, "identifier"},
		{"non-ASCII identifier", models.NewDevice{Identifier: "gerät-1", Model: "T-100"}, "identifier"},
		{"missing model", models.NewDevice{Identifier: "dev-1", Model: " \t "}, "model"},
		{"long model", models.NewDevice{Identifier: "dev-1", Model: strings.Repeat("m", 101)}, "model"},
		{"model with a line break", models.NewDevice{Identifier: "dev-1", Model: "T\n100"}, "model"},
		{"model not UTF-8", models.NewDevice{Identifier: "dev-1", Model: "T\xff100"}, "model"},
		{"new device deprovisioned", models.NewDevice{Identifier: "dev-1", Model: "T-100", Status: models.DeviceDeprovisioned}, "status"},
		{"unknown status", models.NewDevice{Identifier: "dev-1", Model: "T-100", Status: "broken"}, "status"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := w.store.AddDevice(ctx, w.acme.ID, c.in); fieldError(err, c.field) == "" {
				t.Fatalf("got %v, want a message beside %s", err, c.field)
			}
		})
	}
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 1}).Total; n != 0 {
		t.Fatalf("invalid input wrote %d devices", n)
	}

	// Trimmed, every allowed character, the longest lengths.
	longID := strings.Repeat("x", 64)
	d, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "  SN-01_a:b.c  ", Model: "  Thermo Logger T-100 ü  "})
	if err != nil {
		t.Fatal(err)
	}
	if d.ID == 0 || d.TenantID != w.acme.ID || d.Identifier != "SN-01_a:b.c" || d.Model != "Thermo Logger T-100 ü" ||
		d.Status != models.DeviceActive || d.DeprovisionedAt != nil || d.CreatedAt.IsZero() || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Fatalf("stored %+v", d)
	}
	if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: longID, Model: strings.Repeat("é", 100), Status: models.DeviceInactive}); err != nil {
		t.Fatalf("longest identifier and model: %v", err)
	}
	got, err := w.store.DeviceByIdentifier(ctx, w.acme.ID, strings.ToUpper(longID))
	if err != nil || got.Status != models.DeviceInactive {
		t.Fatalf("inactive device: %+v %v", got, err)
	}
}

func TestAddDeviceRefusesDuplicateIdentifierInAnyCase(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	mustDevice(t, w.store, w.acme.ID, "SN-0001", "T-100")
	for _, dup := range []string{"SN-0001", "sn-0001", " Sn-0001 "} {
		if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: dup, Model: "T-200"}); fieldError(err, "identifier") == "" {
			t.Fatalf("duplicate %q: got %v, want a message beside identifier", dup, err)
		}
	}
	// Another tenant may use the same identifier.
	mustDevice(t, w.store, w.globex.ID, "SN-0001", "G-1")
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 10}).Total; n != 1 {
		t.Fatalf("acme has %d devices, want 1", n)
	}
}

func TestListDevicesSearchAndPaging(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	add := func(id, model string, day int) {
		t.Helper()
		if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: id, Model: model, CreatedAt: base.AddDate(0, 0, day)}); err != nil {
			t.Fatal(err)
		}
	}
	add("TL-001", "Thermo Logger T-100", 0)
	add("TL-002", "Thermo Logger T-100", 1)
	add("GT-001", "GPS Tracker G2", 2)
	add("GT-002", "GPS Tracker G2", 3)
	add("odd_100", "Weird 50% model", 4)
	add("plain100", "Plain", 5)
	mustDevice(t, w.store, w.globex.ID, "TL-999", "Thermo Logger T-100") // never in acme's lists

	cases := []struct {
		q    string
		want []string
	}{
		{"", []string{"plain100", "odd_100", "GT-002", "GT-001", "TL-002", "TL-001"}}, // newest first
		{"tl-00", []string{"TL-002", "TL-001"}},                                       // by identifier, any case
		{"gps tracker", []string{"GT-002", "GT-001"}},                                 // by model, any case
		{"LOGGER", []string{"TL-002", "TL-001"}},
		{"  gt-001  ", []string{"GT-001"}},
		{"0%", []string{"odd_100"}}, // % taken literally (else every "0" matches)
		{"_1", []string{"odd_100"}}, // _ taken literally (else "plain100" matches)
		{"d_", []string{"odd_100"}},
		{"nothing-like-this", nil},
	}
	for _, c := range cases {
		t.Run("q="+c.q, func(t *testing.T) {
			p := listDevices(t, w.store, w.acme.ID, c.q, models.PageRequest{Number: 1, Size: 50})
			if got := identifiers(p.Items); fmt.Sprint(got) != fmt.Sprint(c.want) || p.Total != int64(len(c.want)) {
				t.Fatalf("got %v (total %d), want %v", got, p.Total, c.want)
			}
		})
	}

	// Pages of two, newest first, with ties on created_at broken by id.
	var seen []string
	for n := 1; n <= 3; n++ {
		p := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: n, Size: 2})
		if p.Total != 6 || len(p.Items) != 2 || p.HasPrev() != (n > 1) || p.HasNext() != (n < 3) {
			t.Fatalf("page %d: %d items, total %d, prev %v next %v", n, len(p.Items), p.Total, p.HasPrev(), p.HasNext())
		}
		seen = append(seen, identifiers(p.Items)...)
	}
	if fmt.Sprint(seen) != fmt.Sprint(cases[0].want) {
		t.Fatalf("pages gave %v", seen)
	}
	if p := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 4, Size: 2}); len(p.Items) != 0 || p.Total != 6 {
		t.Fatalf("past the end: %v", identifiers(p.Items))
	}
	// Same created_at: the later one first.
	same := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, id := range []string{"tie-a", "tie-b"} {
		if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: id, Model: "Tie", CreatedAt: same}); err != nil {
			t.Fatal(err)
		}
	}
	if got := identifiers(listDevices(t, w.store, w.acme.ID, "tie", models.PageRequest{Number: 1, Size: 5}).Items); fmt.Sprint(got) != "[tie-b tie-a]" {
		t.Fatalf("ties: %v", got)
	}
}

func TestDeprovisionIsFinalAndDated(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	d := mustDevice(t, w.store, w.acme.ID, "SN-1", "T-100")
	before := time.Now().Add(-time.Second)
	time.Sleep(5 * time.Millisecond) // Updated At must move

	got, err := w.store.DeprovisionDevice(ctx, w.acme.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != models.DeviceDeprovisioned || got.DeprovisionedAt == nil || got.DeprovisionedAt.Before(before) ||
		!got.UpdatedAt.Equal(*got.DeprovisionedAt) || !got.UpdatedAt.After(d.UpdatedAt) || !got.CreatedAt.Equal(d.CreatedAt) {
		t.Fatalf("after deprovisioning: %+v (was %+v)", got, d)
	}
	stored, _ := w.store.DeviceByID(ctx, w.acme.ID, d.ID)
	if !stored.Deprovisioned() || stored.DeprovisionedAt == nil || !stored.DeprovisionedAt.Equal(*got.DeprovisionedAt) {
		t.Fatalf("stored: %+v", stored)
	}

	// Final: a second deprovision is refused and keeps the date; the status
	// cannot be set back.
	time.Sleep(5 * time.Millisecond)
	if _, err := w.store.DeprovisionDevice(ctx, w.acme.ID, d.ID); !errors.Is(err, models.ErrDeviceDeprovisioned) {
		t.Fatalf("second deprovision: %v, want ErrDeviceDeprovisioned", err)
	}
	for _, st := range []models.DeviceStatus{models.DeviceActive, models.DeviceInactive} {
		if _, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, st); !errors.Is(err, models.ErrDeviceDeprovisioned) {
			t.Fatalf("set %s on a deprovisioned device: %v", st, err)
		}
	}
	again, _ := w.store.DeviceByID(ctx, w.acme.ID, d.ID)
	if !again.DeprovisionedAt.Equal(*stored.DeprovisionedAt) || !again.UpdatedAt.Equal(stored.UpdatedAt) || !again.Deprovisioned() {
		t.Fatalf("a refused change moved the device: %+v", again)
	}

	// The database itself keeps the rule: no deprovisioned device without a date.
	if err := w.store.ExecForTest(ctx, "UPDATE devices SET deprovisioned_at = NULL WHERE id = ?", d.ID); err == nil {
		t.Fatal("the database accepted a deprovisioned device without a date")
	}
}

func TestSetDeviceStatus(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	d := mustDevice(t, w.store, w.acme.ID, "SN-1", "T-100")
	time.Sleep(5 * time.Millisecond)
	got, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, models.DeviceInactive)
	if err != nil || got.Status != models.DeviceInactive || !got.UpdatedAt.After(d.UpdatedAt) || got.DeprovisionedAt != nil {
		t.Fatalf("deactivate: %+v %v", got, err)
	}
	// The same status again changes nothing, Updated At included.
	same, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, models.DeviceInactive)
	if err != nil || !same.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("no-op: %+v %v", same, err)
	}
	if back, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, models.DeviceActive); err != nil || back.Status != models.DeviceActive {
		t.Fatalf("activate: %+v %v", back, err)
	}
	for _, bad := range []models.DeviceStatus{models.DeviceDeprovisioned, "", "broken"} {
		if _, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, bad); fieldError(err, "status") == "" {
			t.Fatalf("status %q: %v", bad, err)
		}
	}
}

func TestSetDeviceModel(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email})
	d := mustDevice(t, w.store, w.acme.ID, "SN-1", "T-100")
	theirs := mustDevice(t, w.store, w.globex.ID, "G-1", "G")
	time.Sleep(5 * time.Millisecond) // Updated At must move
	got, err := w.store.SetDeviceModel(ctx, w.acme.ID, d.ID, "  Thermo Logger T-200 ")
	if err != nil || got.Model != "Thermo Logger T-200" || got.Identifier != "SN-1" || got.Status != models.DeviceActive || !got.UpdatedAt.After(d.UpdatedAt) {
		t.Fatalf("change the model: %+v %v", got, err)
	}
	ev := auditEvents(t, w.store, w.acme.ID, models.AuditDeviceModelChanged)
	if len(ev) != 1 || ev[0].TargetLabel != "SN-1" || str(ev[0].Before) != `{"model":"T-100"}` || str(ev[0].After) != `{"model":"Thermo Logger T-200"}` {
		t.Fatalf("audit events: %+v", ev)
	}
	// The same model again changes nothing, Updated At included, and records nothing.
	same, err := w.store.SetDeviceModel(ctx, w.acme.ID, d.ID, "Thermo Logger T-200")
	if err != nil || !same.UpdatedAt.Equal(got.UpdatedAt) || len(auditEvents(t, w.store, w.acme.ID, models.AuditDeviceModelChanged)) != 1 {
		t.Fatalf("no-op: %+v %v", same, err)
	}
	for _, bad := range []string{"", "   ", "line\nbreak", strings.Repeat("m", models.MaxDeviceModelLen+1)} {
		if _, err := w.store.SetDeviceModel(ctx, w.acme.ID, d.ID, bad); fieldError(err, "model") == "" {
			t.Fatalf("model %q: %v", bad, err)
		}
	}
	// Another tenant's device, or none, is not found and stays as it is.
	for _, id := range []int64{theirs.ID, 987654} {
		if _, err := w.store.SetDeviceModel(ctx, w.acme.ID, id, "Evil"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("device %d: %v, want ErrNotFound", id, err)
		}
	}
	if still, _ := w.store.DeviceByID(ctx, w.globex.ID, theirs.ID); still.Model != "G" {
		t.Fatalf("another tenant's device became %q", still.Model)
	}
	if _, err := w.store.SetDeviceModel(ctx, 0, d.ID, "X"); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
	// A deprovisioned device cannot be changed.
	if _, err := w.store.DeprovisionDevice(ctx, w.acme.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.SetDeviceModel(ctx, w.acme.ID, d.ID, "T-300"); !errors.Is(err, models.ErrDeviceDeprovisioned) {
		t.Fatalf("change a deprovisioned device: %v, want ErrDeviceDeprovisioned", err)
	}
	if after, _ := w.store.DeviceByID(ctx, w.acme.ID, d.ID); after.Model != "Thermo Logger T-200" {
		t.Fatalf("a deprovisioned device's model became %q", after.Model)
	}
}

func TestDevicesOfAnotherTenantAreNotFound(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	theirs := mustDevice(t, w.store, w.globex.ID, "G-1", "G")
	if _, err := w.store.DeprovisionDevice(ctx, w.acme.ID, theirs.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deprovision another tenant's device: %v, want ErrNotFound", err)
	}
	if _, err := w.store.SetDeviceStatus(ctx, w.acme.ID, theirs.ID, models.DeviceInactive); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("set status of another tenant's device: %v, want ErrNotFound", err)
	}
	if _, err := w.store.DeviceByID(ctx, w.acme.ID, theirs.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("load another tenant's device: %v", err)
	}
	if _, err := w.store.DeviceByIdentifier(ctx, w.acme.ID, "G-1"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("find another tenant's device: %v", err)
	}
	if _, err := w.store.DeprovisionDevice(ctx, w.acme.ID, 987654); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown device: %v", err)
	}
	still, _ := w.store.DeviceByID(ctx, w.globex.ID, theirs.ID)
	if still.Status != models.DeviceActive || still.DeprovisionedAt != nil || !still.UpdatedAt.Equal(theirs.UpdatedAt) {
		t.Fatalf("another tenant's device changed: %+v", still)
	}
}

func TestDeviceQueriesRefuseZeroTenant(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	d := mustDevice(t, w.store, w.acme.ID, "SN-1", "T-100")
	calls := map[string]func() error{
		"AddDevice": func() error {
			_, err := w.store.AddDevice(ctx, 0, models.NewDevice{Identifier: "x", Model: "y"})
			return err
		},
		"ListDevices": func() error {
			_, err := w.store.ListDevices(ctx, 0, "", models.PageRequest{Number: 1, Size: 5})
			return err
		},
		"DeviceByID":         func() error { _, err := w.store.DeviceByID(ctx, 0, d.ID); return err },
		"DeviceByIdentifier": func() error { _, err := w.store.DeviceByIdentifier(ctx, 0, "SN-1"); return err },
		"SetDeviceStatus":    func() error { _, err := w.store.SetDeviceStatus(ctx, 0, d.ID, models.DeviceInactive); return err },
		"DeprovisionDevice":  func() error { _, err := w.store.DeprovisionDevice(ctx, 0, d.ID); return err },
		"ImportDevices": func() error {
			_, err := w.store.ImportDevices(ctx, 0, []models.DeviceCSVRow{{Line: 2, Identifier: "x", Model: "y"}})
			return err
		},
		"ImportDevicesCSV": func() error {
			_, err := w.store.ImportDevicesCSV(ctx, 0, strings.NewReader("identifier,model\nx,y\n"))
			return err
		},
	}
	for name, fn := range calls {
		if err := fn(); !errors.Is(err, models.ErrNoTenant) {
			t.Errorf("%s with tenant 0: %v, want ErrNoTenant", name, err)
		}
	}
	if got, _ := w.store.DeviceByID(ctx, w.acme.ID, d.ID); got.Status != models.DeviceActive {
		t.Fatalf("device changed: %+v", got)
	}
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 5}).Total; n != 1 {
		t.Fatalf("%d devices, want 1", n)
	}
}

// raceDetector tells whether the test binary runs under -race, where the
// embedded SQLite (pure Go) is instrumented and many times slower.
func raceDetector() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestDeviceListStaysFastWithManyDevices fills one tenant with 200,000
// devices (pages of its list must stay fast at that size) and times the
// first, a deep and a searched page, checking their
// order. Under the race detector it uses 10,000, which still shows a page
// that sorted every row on each request.
func TestDeviceListStaysFastWithManyDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a tenant with 200,000 devices")
	}
	w := newDeviceWorld(t)
	ctx := context.Background()
	n, bound := 200000, 3*time.Second
	if raceDetector() {
		n, bound = 10000, 10*time.Second
	}
	var fill string
	if w.store.Dialect() == models.Postgres {
		fill = `INSERT INTO devices (tenant_id, identifier, model, status, created_at, updated_at)
			SELECT ?, 'dev-' || g, 'Model ' || (g % 7), 'active', TIMESTAMPTZ '2025-01-01' + g * INTERVAL '1 second', now()
			FROM generate_series(1, ?) AS g`
	} else {
		fill = `WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < ?)
			INSERT INTO devices (tenant_id, identifier, model, status, created_at, updated_at)
			SELECT ?, 'dev-' || x, 'Model ' || (x % 7), 'active', datetime('2025-01-01', '+' || x || ' seconds'), CURRENT_TIMESTAMP FROM g`
	}
	args := []any{w.acme.ID, n}
	if w.store.Dialect() != models.Postgres {
		args = []any{n, w.acme.ID}
	}
	if err := w.store.ExecForTest(ctx, fill, args...); err != nil {
		t.Fatal(err)
	}
	if w.store.Dialect() == models.Postgres {
		_ = w.store.ExecForTest(ctx, "ANALYZE devices")
	}
	mustDevice(t, w.store, w.globex.ID, "dev-1", "Other tenant")

	timed := func(name, q string, page int) models.Page[models.Device] {
		t.Helper()
		start := time.Now()
		p := listDevices(t, w.store, w.acme.ID, q, models.PageRequest{Number: page, Size: models.DevicePageSize})
		took := time.Since(start)
		t.Logf("%s: %v", name, took)
		if took > bound {
			t.Errorf("%s took %v", name, took)
		}
		return p
	}
	first := timed("first page", "", 1)
	// The count stops at CountCap rather than reading every device.
	if first.Total != min(int64(n), models.CountCap) || first.Capped != (n > models.CountCap) || first.Items[0].Identifier != fmt.Sprintf("dev-%d", n) || len(first.Items) != models.DevicePageSize {
		t.Fatalf("first page: total %d (capped %v), first %q", first.Total, first.Capped, first.Items[0].Identifier)
	}
	// The deepest page reachable is the one ending at CountCap.
	last := models.ParsePage("999999", models.DevicePageSize).Number
	if last != models.CountCap/models.DevicePageSize {
		t.Fatalf("deepest page %d, want %d", last, models.CountCap/models.DevicePageSize)
	}
	deep := timed("deepest page", "", last)
	if want := fmt.Sprintf("dev-%d", n-(last-1)*models.DevicePageSize); deep.Items[0].Identifier != want || deep.HasNext() {
		t.Fatalf("page %d starts with %q, want %q", last, deep.Items[0].Identifier, want)
	}
	found := timed("search", "DEV-1999", 1)
	var want int64 // dev-1999, dev-19990…dev-19999, and so on
	for i := 1; i <= n; i++ {
		if strings.HasPrefix(strconv.Itoa(i), "1999") {
			want++
		}
	}
	if found.Total != want {
		t.Fatalf("search found %d, want %d", found.Total, want)
	}
}
