package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"canopy/models"
)

// line is one expected outcome: "2 ok" for an imported or accepted line, or
// "3 " + part of the reason it was refused.
type line struct {
	n      int
	reason string // empty: accepted
}

func TestParseDeviceCSV(t *testing.T) {
	cases := []struct {
		name string
		in   string
		rows []models.DeviceCSVRow
		bad  []line
	}{
		{
			name: "plain",
			in:   "identifier,model\nSN-1,T-100\nSN-2,G2\n",
			rows: []models.DeviceCSVRow{{Line: 2, Identifier: "SN-1", Model: "T-100", Status: "active"}, {Line: 3, Identifier: "SN-2", Model: "G2", Status: "active"}},
		},
		{
			name: "BOM, CRLF, blank lines, header case and spaces, status column first",
			in:   "\ufeff Status , Device Identifier ,MODEL\r\n\r\nInactive, SN-1 , Thermo Logger \r\n,,\r\n ,  ,\r\n\r\nactive,SN-2,\"G2, rev B\"\r\n",
			rows: []models.DeviceCSVRow{{Line: 3, Identifier: "SN-1", Model: "Thermo Logger", Status: "inactive"}, {Line: 7, Identifier: "SN-2", Model: "G2, rev B", Status: "active"}},
		},
		{
			name: "header after blank lines, underscores, trailing comma, no final newline",
			in:   "\n\ndevice_identifier,device_model,\nSN-1,T-100,",
			rows: []models.DeviceCSVRow{{Line: 4, Identifier: "SN-1", Model: "T-100", Status: "active"}},
		},
		{
			name: "every kind of bad row",
			in: strings.Join([]string{
				"identifier,model,status",
				"SN-1,T-100,",                       // 2 ok
				",T-100,active",                     // 3 missing identifier
				"SN 3,T-100,",                       // 4 bad identifier
				strings.Repeat("x", 65) + ",T-100,", // 5 too long
				"SN-6,,",                            // 6 missing model
				"SN-7,T-100,broken",                 // 7 unknown status
				"SN-8,T-100,deprovisioned",          // 8 cannot import deprovisioned
				"sn-1,T-200,",                       // 9 duplicate of line 2, other case
				"SN-10,T-100,active,extra",          // 10 too many values
				"SN-11",                             // 11 missing model (short line)
				"SN-12,T\xff,",                      // 12 model not UTF-8
				"SN-13,G2,INACTIVE",                 // 13 ok
			}, "\n"),
			rows: []models.DeviceCSVRow{{Line: 2, Identifier: "SN-1", Model: "T-100", Status: "active"}, {Line: 13, Identifier: "SN-13", Model: "G2", Status: "inactive"}},
			bad: []line{
				{3, "Missing identifier"}, {4, "Bad identifier"}, {5, "at most 64"}, {6, "Missing model"},
				{7, "Unknown status"}, {8, "cannot be imported as deprovisioned"}, {9, "line 2 of this file"},
				{10, "4 values but the header has 3"}, {11, "Missing model"}, {12, "not valid UTF-8"},
			},
		},
		{
			name: "quoted line break in a model is refused on the line it starts",
			in:   "identifier,model\nSN-1,\"two\nlines\"\nSN-2,ok\n",
			rows: []models.DeviceCSVRow{{Line: 4, Identifier: "SN-2", Model: "ok", Status: "active"}},
			bad:  []line{{2, "control characters"}},
		},
		{
			name: "header only",
			in:   "identifier,model\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, refused, err := models.ParseDeviceCSV(strings.NewReader(c.in))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(rows) != fmt.Sprint(c.rows) {
				t.Errorf("rows\n got %v\nwant %v", rows, c.rows)
			}
			if len(refused) != len(c.bad) {
				t.Fatalf("refused %+v, want %v", refused, c.bad)
			}
			for i, want := range c.bad {
				if refused[i].Line != want.n || refused[i].Imported || !strings.Contains(refused[i].Reason, want.reason) {
					t.Errorf("refusal %d: %+v, want line %d with %q", i, refused[i], want.n, want.reason)
				}
			}
		})
	}
}

func TestParseDeviceCSVRefusesWholeFiles(t *testing.T) {
	many := "identifier,model\n"
	for i := range models.MaxDeviceCSVRows + 1 {
		many += fmt.Sprintf("d-%d,m\n", i)
	}
	exactly := "identifier,model\n"
	for i := range models.MaxDeviceCSVRows {
		exactly += fmt.Sprintf("d-%d,m\n", i)
	}
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "The file is empty"},
		{"only blank lines and a BOM", "\ufeff\r\n\r\n  \n", "The file is empty"},
		{"no header", "SN-1,T-100\n", `unknown column "SN-1"`},
		{"missing model column", "identifier,status\nSN-1,active\n", "must name the identifier and model"},
		{"unknown column", "identifier,model,colour\nSN-1,T,red\n", `unknown column "colour" (column 3)`},
		{"column twice", "identifier,model,Device Model\n", "names the model column twice"},
		{"too many rows", many, "more than 5,000 devices"},
		{"too large", "identifier,model\n" + strings.Repeat("a", models.MaxDeviceCSVBytes), "larger than 1 MiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, refused, err := models.ParseDeviceCSV(strings.NewReader(c.in))
			var ce *models.DeviceCSVError
			if !errors.As(err, &ce) || !strings.Contains(ce.Message, c.want) {
				t.Fatalf("got %v, want a file error saying %q", err, c.want)
			}
			if rows != nil || refused != nil {
				t.Fatalf("a refused file still gave rows: %d, %d", len(rows), len(refused))
			}
		})
	}
	if rows, _, err := models.ParseDeviceCSV(strings.NewReader(exactly)); err != nil || len(rows) != models.MaxDeviceCSVRows {
		t.Fatalf("exactly %d rows: %d, %v", models.MaxDeviceCSVRows, len(rows), err)
	}
}

// FuzzParseDeviceCSV: whatever the file, the parser never panics; every
// row it accepts is valid, unique in the file in any case, and its line is
// within the file; every line is either accepted or refused with a reason.
func FuzzParseDeviceCSV(f *testing.F) {
	for _, seed := range []string{
		"identifier,model\nSN-1,T-100\n",
		"\ufeffIdentifier,Model,Status\r\nSN-1,T-100,inactive\r\nsn-1,T,\r\n",
		"identifier,model\n\"SN-1,T-100\n",
		"identifier,model\nSN-1,\"a\"\"b\"\n,,\n\"\n",
		"model,identifier\n T , x:y.z_1 \n",
		"identifier,model\nSN-1,T\xff\x00\n",
		"",
		"a,b,c\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, refused, err := models.ParseDeviceCSV(strings.NewReader(string(data)))
		if err != nil {
			var ce *models.DeviceCSVError
			if !errors.As(err, &ce) || ce.Message == "" {
				t.Fatalf("error %v is not a file error with a message", err)
			}
			if rows != nil || refused != nil {
				t.Fatal("rows came with a file error")
			}
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		seen := map[string]bool{}
		for _, r := range rows {
			if models.ValidateDeviceIdentifier(r.Identifier) != "" || models.ValidateDeviceModel(r.Model) != "" || !r.Status.Settable() {
				t.Fatalf("accepted an invalid row %+v", r)
			}
			if r.Identifier != strings.TrimSpace(r.Identifier) || r.Model != strings.TrimSpace(r.Model) {
				t.Fatalf("accepted an untrimmed row %+v", r)
			}
			key := strings.ToLower(r.Identifier)
			if seen[key] {
				t.Fatalf("accepted %q twice", r.Identifier)
			}
			seen[key] = true
			if r.Line < 2 || r.Line > lines {
				t.Fatalf("row on line %d of a %d-line file", r.Line, lines)
			}
		}
		for _, o := range refused {
			if o.Imported || o.Reason == "" || o.Line < 1 || o.Line > lines {
				t.Fatalf("refusal without a reason or line: %+v", o)
			}
			if strings.ContainsAny(o.Identifier+o.Model, "\x00\n\r") || len([]rune(o.Identifier)) > 80 || len([]rune(o.Model)) > 80 {
				t.Fatalf("refusal shows unsafe text: %+v", o)
			}
		}
		if len(rows)+len(refused) > models.MaxDeviceCSVRows {
			t.Fatalf("%d lines accepted from one file", len(rows)+len(refused))
		}
	})
}

func importCSV(t *testing.T, store *models.Store, tenantID int64, csv string) models.DeviceImportReport {
	t.Helper()
	report, err := store.ImportDevicesCSV(context.Background(), tenantID, strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	return report
}

func checkReport(t *testing.T, report models.DeviceImportReport, want []line) {
	t.Helper()
	if len(report.Rows) != len(want) {
		t.Fatalf("report has %d lines, want %d: %+v", len(report.Rows), len(want), report.Rows)
	}
	imported := 0
	for i, w := range want {
		got := report.Rows[i]
		if got.Line != w.n || got.Imported != (w.reason == "") || !strings.Contains(got.Reason, w.reason) {
			t.Errorf("line %d: %+v, want %q", w.n, got, w.reason)
		}
		if w.reason == "" {
			imported++
		}
	}
	if report.Imported != imported || report.Refused != len(want)-imported ||
		len(report.Imports()) != imported || len(report.Refusals()) != len(want)-imported {
		t.Errorf("counts: %d imported, %d refused; want %d and %d", report.Imported, report.Refused, imported, len(want)-imported)
	}
}

func TestImportDevicesReport(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	mustDevice(t, w.store, w.acme.ID, "SN-EXISTS", "T-100")
	mustDevice(t, w.store, w.globex.ID, "SN-GLOBEX", "G") // another tenant's: no conflict

	report := importCSV(t, w.store, w.acme.ID, strings.Join([]string{
		"identifier,model,status",
		"SN-1,Thermo Logger T-100,",
		"bad id!,T-100,",
		"SN-2,,",
		"SN-3,T-100,lost",
		"sn-1,Other,",
		"sn-exists,T-100,",
		"SN-GLOBEX,G,inactive",
		"SN-4,GPS Tracker G2,Inactive",
	}, "\n"))
	checkReport(t, report, []line{
		{2, ""}, {3, "Bad identifier"}, {4, "Missing model"}, {5, "Unknown status"},
		{6, "line 2 of this file"}, {7, "already exists here"}, {8, ""}, {9, ""},
	})
	page := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 50})
	got := map[string]models.DeviceStatus{}
	for _, d := range page.Items {
		got[d.Identifier] = d.Status
	}
	want := map[string]models.DeviceStatus{"SN-EXISTS": "active", "SN-1": "active", "SN-GLOBEX": "inactive", "SN-4": "inactive"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("acme's devices: %v, want %v", got, want)
	}
	if d, _ := w.store.DeviceByIdentifier(ctx, w.acme.ID, "SN-EXISTS"); d.Model != "T-100" {
		t.Fatalf("an existing device was overwritten: %+v", d)
	}
	if n := listDevices(t, w.store, w.globex.ID, "", models.PageRequest{Number: 1, Size: 5}).Total; n != 1 {
		t.Fatalf("globex has %d devices, want 1", n)
	}

	// Importing the same file again imports nothing and says why.
	again := importCSV(t, w.store, w.acme.ID, "identifier,model\nSN-1,T\nSN-4,T\n")
	checkReport(t, again, []line{{2, "already exists"}, {3, "already exists"}})
}

func TestImportDevicesWritesNothingWhenAllAreBad(t *testing.T) {
	w := newDeviceWorld(t)
	mustDevice(t, w.store, w.acme.ID, "SN-1", "T")
	report := importCSV(t, w.store, w.acme.ID, "identifier,model\nSN-1,T\n,x\nok-2,\n")
	checkReport(t, report, []line{{2, "already exists"}, {3, "Missing identifier"}, {4, "Missing model"}})
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 5}).Total; n != 1 {
		t.Fatalf("%d devices after an all-bad import, want 1", n)
	}
	// A whole-file refusal writes nothing either.
	_, err := w.store.ImportDevicesCSV(context.Background(), w.acme.ID, strings.NewReader("identifier,colour\nSN-9,red\n"))
	var ce *models.DeviceCSVError
	if !errors.As(err, &ce) {
		t.Fatalf("bad header: %v", err)
	}
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 5}).Total; n != 1 {
		t.Fatalf("%d devices after a refused file, want 1", n)
	}
}

// TestImportDevicesIsOneTransaction: when the database refuses one of the
// rows, none of the file's rows is written.
func TestImportDevicesIsOneTransaction(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	// A trigger stands in for a database failure on the third row.
	var trigger string
	if w.store.Dialect() == models.Postgres {
		if err := w.store.ExecForTest(ctx, `CREATE FUNCTION fail_device() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.identifier = 'boom' THEN RAISE EXCEPTION 'disk on fire'; END IF; RETURN NEW; END $$`); err != nil {
			t.Fatal(err)
		}
		trigger = `CREATE TRIGGER fail_device BEFORE INSERT ON devices FOR EACH ROW EXECUTE FUNCTION fail_device()`
	} else {
		trigger = `CREATE TRIGGER fail_device BEFORE INSERT ON devices WHEN NEW.identifier = 'boom'
			BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`
	}
	if err := w.store.ExecForTest(ctx, trigger); err != nil {
		t.Fatal(err)
	}
	rows := []models.DeviceCSVRow{
		{Line: 2, Identifier: "ok-1", Model: "T"},
		{Line: 3, Identifier: "ok-2", Model: "T"},
		{Line: 4, Identifier: "boom", Model: "T"},
		{Line: 5, Identifier: "ok-3", Model: "T"},
	}
	if _, err := w.store.ImportDevices(ctx, w.acme.ID, rows); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("import with a failing row: %v", err)
	}
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 5}).Total; n != 0 {
		t.Fatalf("%d devices were half-written", n)
	}
	// Rows that do not come from the parser are checked all the same.
	report, err := w.store.ImportDevices(ctx, w.acme.ID, []models.DeviceCSVRow{
		{Line: 2, Identifier: " ok-1 ", Model: " T "},
		{Line: 3, Identifier: "OK-1", Model: "T"},
		{Line: 4, Identifier: "x", Model: "T", Status: models.DeviceDeprovisioned},
		{Line: 5, Identifier: "y/z", Model: "T"},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, report, []line{{2, ""}, {3, "line 2"}, {4, "deprovisioned"}, {5, "Bad identifier"}})
	if d, err := w.store.DeviceByIdentifier(ctx, w.acme.ID, "ok-1"); err != nil || d.Identifier != "ok-1" || d.Model != "T" {
		t.Fatalf("trimmed row: %+v %v", d, err)
	}
	if _, err := w.store.ImportDevices(ctx, w.acme.ID, make([]models.DeviceCSVRow, models.MaxDeviceCSVRows+1)); err == nil {
		t.Fatal("accepted more rows than a file may hold")
	}
}

func TestImportDevicesAtTheLimit(t *testing.T) {
	w := newDeviceWorld(t)
	var b strings.Builder
	b.WriteString("identifier,model,status\n")
	for i := range models.MaxDeviceCSVRows {
		status := "active"
		if i%10 == 0 {
			status = "inactive"
		}
		fmt.Fprintf(&b, "bulk-%05d,Model %d,%s\n", i, i%4, status)
	}
	report := importCSV(t, w.store, w.acme.ID, b.String())
	if report.Imported != models.MaxDeviceCSVRows || report.Refused != 0 {
		t.Fatalf("imported %d, refused %d", report.Imported, report.Refused)
	}
	if n := listDevices(t, w.store, w.acme.ID, "", models.PageRequest{Number: 1, Size: 1}).Total; n != models.MaxDeviceCSVRows {
		t.Fatalf("%d devices stored", n)
	}
	if n := listDevices(t, w.store, w.acme.ID, "BULK-04", models.PageRequest{Number: 1, Size: 1}).Total; n != 1000 {
		t.Fatalf("search after import: %d", n)
	}
}
