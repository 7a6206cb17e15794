package models_test

import (
	"context"
	"testing"

	"gorm.io/gorm"

	"canopy/models"
)

// TestMigrationsBackfillAsAPlainOwner: in production the schema's owner is
// a plain role (NOSUPERUSER NOBYPASSRLS), which FORCEd row-level security
// holds to the policies like the application: a migration that fills a new
// column of existing rows must lift it for that UPDATE, or fill nothing.
// The demo data is written at the latest version, the migrations since the
// tree per row are undone and done again by such an owner, and every copy
// they fill must be there (and the outbox's mail of no tenant filed under
// the platform's tenant, 00039).
func TestMigrationsBackfillAsAPlainOwner(t *testing.T) {
	plain := newPlainOwnerWorld(t)
	ctx := context.Background()
	report := func(label string, db *gorm.DB) {
		t.Helper()
		var r struct {
			Empty, Deep, NoPerson, NoTenantCopy, UnfiledMail, PlatformMail int64
		}
		err := db.Raw(`SELECT
			(SELECT count(*) FROM tenants WHERE parent_id IS NOT NULL AND ancestor_ids = '{}') AS empty,
			(SELECT count(*) FROM tenants WHERE cardinality(ancestor_ids) >= 2) AS deep,
			(SELECT count(*) FROM memberships WHERE person_email = '') AS no_person,
			(SELECT count(*) FROM memberships WHERE tenant_sort_name = '') AS no_tenant_copy,
			(SELECT count(*) FROM outbox_emails WHERE tenant_id IS NULL) AS unfiled_mail,
			(SELECT count(*) FROM outbox_emails WHERE subject = 'about no tenant'
				AND tenant_id = (SELECT id FROM tenants WHERE parent_id IS NULL)) AS platform_mail`).Scan(&r).Error
		if err != nil {
			t.Fatal(err)
		}
		if r.Empty != 0 || r.Deep == 0 || r.NoPerson != 0 || r.NoTenantCopy != 0 || r.UnfiledMail != 0 || r.PlatformMail != 1 {
			t.Errorf("%s: sub-tenants without ancestors %d (and %d two levels down), memberships without their person %d, without their company %d, "+
				"mail of no tenant %d, filed under the platform %d (want 1)",
				label, r.Empty, r.Deep, r.NoPerson, r.NoTenantCopy, r.UnfiledMail, r.PlatformMail)
		}
	}
	su := plain.connect("") // the server's superuser, whom nothing hides
	if err := plain.owner.EnqueueEmail(ctx, models.NewEmail{To: "nobody@example.test", Subject: "about no tenant", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	report("seeded at head (triggers)", su)
	if err := plain.owner.MigrateDownToForTest(ctx, 30); err != nil {
		t.Fatal(err)
	}
	// Before 00039 mail about no tenant had none.
	if err := su.Exec("UPDATE outbox_emails SET tenant_id = NULL WHERE subject = 'about no tenant'").Error; err != nil {
		t.Fatal(err)
	}
	if err := plain.owner.MigrateForTest(ctx); err != nil {
		t.Fatal(err)
	}
	report("data from before 00031, migrated by the plain owner", su)
	if t.Failed() {
		t.Log("a backfill under FORCE ROW LEVEL SECURITY needs ALTER TABLE … NO FORCE around it")
	}
}
