package main

import (
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/internal/testkit"
	"canopy/models"
)

// billingDatabase points the commands at a fresh database and returns a
// connection of its owner, to inspect and damage it: an SQLite data
// folder, or on PostgreSQL a new database that the commands reach as the
// server does (a member of canopy_app, under row-level security),
// migrating as its owner.
func billingDatabase(t *testing.T) *gorm.DB {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("CANOPY_DATA_DIR", dir)
	server := os.Getenv(testdb.EnvVar)
	if server == "" {
		t.Setenv("DATABASE_URL", "")
		t.Setenv("DATABASE_OWNER_URL", "")
		db, err := models.OpenSQLite(filepath.Join(dir, "canopy.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = models.Close(db) })
		return db
	}
	owner, _ := testdb.OpenAsApp(t)
	var name string
	if err := owner.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	ownerURL := u.String()
	u.User = url.User(testdb.AppRole)
	t.Setenv("CANOPY_SESSION_KEY", base64.StdEncoding.EncodeToString([]byte("a session key of at least 32 bytes, for billing")))
	t.Setenv("DATABASE_URL", u.String())
	t.Setenv("DATABASE_OWNER_URL", ownerURL)
	return owner
}

func runCommand(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out := &testkit.LockedBuffer{}
	err := run(args, out)
	return out.String(), err
}

// TestBillingRebuildAndClose drives both commands over the demo data: the
// figures agree with what they count; damaged ones are reported (and the
// command fails) until --apply repairs them; a month not yet ended is
// refused; a lost statement is written again, once.
func TestBillingRebuildAndClose(t *testing.T) {
	owner := billingDatabase(t)
	if out, err := runCommand(t, "seed", "--demo"); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	now := time.Now()
	month := models.MonthOf(now, time.UTC)
	out, err := runCommand(t, "billing", "rebuild", "--month", string(month))
	if err != nil || !strings.Contains(out, "No differences") {
		t.Fatalf("rebuild of the demo's %s: %v\n%s", month, err, out)
	}

	err = owner.Exec(`UPDATE billing_presence_days SET starts = starts + 2
		WHERE meter = 'devices' AND day = (SELECT min(day) FROM billing_presence_days WHERE meter = 'devices' AND day >= ?)`,
		month.FirstDay()).Error
	if err != nil {
		t.Fatal(err)
	}
	out, err = runCommand(t, "billing", "rebuild", "--month", string(month))
	if !errors.Is(err, errBillingDifferences) || !strings.Contains(out, "devices starts: kept") {
		t.Fatalf("rebuild of damaged figures: %v\n%s", err, out)
	}
	if out, err = runCommand(t, "billing", "rebuild", "--month", string(month), "--apply"); err != nil || !strings.Contains(out, "Applied") {
		t.Fatalf("rebuild --apply: %v\n%s", err, out)
	}
	if out, err = runCommand(t, "billing", "rebuild", "--month", string(month)); err != nil || !strings.Contains(out, "No differences") {
		t.Fatalf("rebuild after --apply: %v\n%s", err, out)
	}
	due := models.BillingMonthDue(now)
	if out, err = runCommand(t, "billing", "rebuild", "--month", string(due)); err != nil || !strings.Contains(out, "skipped as closed") {
		t.Errorf("rebuild of a closed month: %v\n%s", err, out)
	}

	if _, err = runCommand(t, "billing", "close", "--month", string(month.Next())); err == nil || !strings.Contains(err.Error(), "has not ended") {
		t.Errorf("closing next month: %v", err)
	}
	if _, err = runCommand(t, "billing", "close", "--month", "November"); err == nil || !strings.Contains(err.Error(), "2026-11") {
		t.Errorf("a month written wrong: %v", err)
	}
	if out, err = runCommand(t, "billing", "close", "--month", string(due)); err != nil || !strings.Contains(out, "no statement written") {
		t.Errorf("closing the demo's closed month again: %v\n%s", err, out)
	}
	// Globex's statement of the month lost: closing writes it again, once.
	if err := owner.Exec(`DELETE FROM billing_statements WHERE month = ? AND tenant_id = (SELECT id FROM tenants WHERE subdomain = 'globex')`, string(due)).Error; err != nil {
		t.Fatal(err)
	}
	if out, err = runCommand(t, "billing", "close", "--month", string(due)); err != nil || !strings.Contains(out, "1 statements written") {
		t.Errorf("closing the lost statement: %v\n%s", err, out)
	}
	var n int64
	if err := owner.Raw(`SELECT count(*) FROM billing_statements WHERE month = ?`, string(due)).Scan(&n).Error; err != nil || n != 3 {
		t.Errorf("%d statements of %s (%v), want Acme's, Acme Lab's and Globex's", n, due, err)
	}
}

// TestClosable: without --force, a month closes once it has ended in
// every timezone (14h10m after UTC's midnight, the job's margin); with
// it, once it has ended in the first (10:00 UTC on its last day); never
// before.
func TestClosable(t *testing.T) {
	nov := models.BillingMonth("2026-11")
	for _, c := range []struct {
		now   string
		force bool
		ok    bool
	}{
		{"2026-11-15 12:00", true, false},
		{"2026-11-30 09:59", true, false},
		{"2026-11-30 10:00", true, true},
		{"2026-11-30 10:00", false, false},
		{"2026-12-01 14:09", false, false},
		{"2026-12-01 14:10", false, true},
		{"2027-03-01 00:00", false, true},
	} {
		now, err := time.Parse("2006-01-02 15:04", c.now)
		if err != nil {
			t.Fatal(err)
		}
		if err := closable(nov, now, c.force); (err == nil) != c.ok {
			t.Errorf("November at %s UTC, force %v: %v, want allowed %v", c.now, c.force, err, c.ok)
		}
	}
}

func TestBillingCommandUsage(t *testing.T) {
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	t.Setenv("DATABASE_URL", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"billing"}, "canopy billing rebuild --month"},
		{[]string{"billing", "refund"}, `unknown command "refund"`},
		{[]string{"billing", "rebuild"}, "--month 2026-11"},
		{[]string{"billing", "close"}, "--month 2026-11"},
	} {
		if _, err := runCommand(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error saying %q", c.args, err, c.want)
		}
	}
	if out, err := runCommand(t, "help"); err != nil || !strings.Contains(out, "canopy billing close --month") {
		t.Errorf("help: %v\n%s", err, out)
	}
}
