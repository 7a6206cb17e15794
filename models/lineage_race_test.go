package models_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// staleMarks lists the tenants whose inactive_above is not what the
// statuses above them give (their highest inactive ancestor, or none).
func staleMarks(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var rows []struct {
		ID            int64
		ParentID      *int64
		Subdomain     string
		Status        string
		InactiveAbove *int64
	}
	if err := db.Raw("SELECT id, parent_id, subdomain, status, inactive_above FROM tenants").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	parent := map[int64]*int64{}
	inactive := map[int64]bool{}
	for _, r := range rows {
		parent[r.ID], inactive[r.ID] = r.ParentID, r.Status == string(models.TenantInactive)
	}
	var stale []string
	for _, r := range rows {
		var want *int64
		for above := r.ParentID; above != nil; above = parent[*above] {
			if inactive[*above] {
				want = above
			}
		}
		if (want == nil) != (r.InactiveAbove == nil) || (want != nil && *want != *r.InactiveAbove) {
			stale = append(stale, fmt.Sprintf("%s (inactive_above %v, want %v)", r.Subdomain, deref(r.InactiveAbove), deref(want)))
		}
	}
	return stale
}

func deref(id *int64) any {
	if id == nil {
		return "none"
	}
	return *id
}

// Status changes of a tenant and of its child at the same moment, and a
// tenant created below one whose status is changing, leave every tenant
// marked with the highest inactive tenant above it, as the statuses that
// committed give it: a company is never left shut (or open) by a change the
// other one overtook. (Without lockTreeStatuses, on Postgres, marks go
// stale within a few rounds.)
func TestInactiveAboveUnderConcurrency(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t)
	store := models.NewStore(db)
	ctx := context.Background()
	platform, err := store.CreateTenant(ctx, models.NewTenant{Name: "Platform", Subdomain: "admin", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	create := func(parentID int64, name string) (*models.Tenant, error) {
		return store.CreateTenant(ctx, models.NewTenant{ParentID: parentID, Name: name, Subdomain: name, Timezone: "UTC"})
	}
	mustCreate := func(parentID int64, name string) *models.Tenant {
		tn, err := create(parentID, name)
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	a := mustCreate(platform.ID, "acme")
	b := mustCreate(a.ID, "acme-east")
	for i := range 3 {
		mustCreate(mustCreate(b.ID, fmt.Sprintf("team%d", i)).ID, fmt.Sprintf("crew%d", i))
	}
	statuses := []models.TenantStatus{models.TenantActive, models.TenantInactive}
	for round := range 60 {
		// Every pair of statuses before and after, for A and for B.
		before, after := round%4, (round/4)%4
		for _, set := range []struct {
			id     int64
			status models.TenantStatus
		}{{a.ID, statuses[before%2]}, {b.ID, statuses[before/2]}} {
			if err := store.SetTenantStatus(ctx, set.id, set.status); err != nil {
				t.Fatal(err)
			}
		}
		races := []func() error{
			func() error { return store.SetTenantStatus(ctx, a.ID, statuses[after%2]) },
			func() error { return store.SetTenantStatus(ctx, b.ID, statuses[after/2]) },
			func() error { _, err := create(a.ID, fmt.Sprintf("new-a%d", round)); return err },
			func() error { _, err := create(b.ID, fmt.Sprintf("new-b%d", round)); return err },
		}
		start := make(chan struct{})
		errs := make([]error, len(races))
		var wg sync.WaitGroup
		for i, race := range races {
			wg.Go(func() {
				<-start
				errs[i] = race()
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, race %d: %v", round, i, err)
			}
		}
		if stale := staleMarks(t, db); len(stale) > 0 {
			t.Fatalf("round %d (A and B %s/%s, then %s/%s): stale marks %v", round,
				statuses[before%2], statuses[before/2], statuses[after%2], statuses[after/2], stale)
		}
	}
}
