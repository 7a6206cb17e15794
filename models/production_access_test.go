package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"canopy/internal/testdb"
	"canopy/models"
)

func requestAccess(ctx context.Context, t *testing.T, s *models.Store, tenantID int64) *models.ProductionAccessRequest {
	t.Helper()
	req, err := s.RequestProductionAccess(ctx, tenantID, models.NewProductionAccessRequest{IntendedUse: "Employment checks\nfrom our HR system", MonthlyVolume: " 1,500 "})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRequestProductionAccess: a request needs an intended use and a whole
// volume; a company has one waiting at a time, and asks no more once
// approved; each request is audited.
func TestRequestProductionAccess(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	ctx := models.WithActor(context.Background(), models.Actor{UserID: tr.alice.ID, Email: "alice@acme.test"})
	for _, c := range []struct {
		name, use, volume, field string
	}{
		{"no use", "   ", "10", "intended_use"},
		{"a long use", strings.Repeat("u", 2001), "10", "intended_use"},
		{"control characters", "Use\x00", "10", "intended_use"},
		{"no volume", "Checks", "", "monthly_volume"},
		{"a word for a volume", "Checks", "lots", "monthly_volume"},
		{"no orders", "Checks", "0", "monthly_volume"},
		{"a fraction", "Checks", "1.5", "monthly_volume"},
		{"an absurd volume", "Checks", "99999999999999", "monthly_volume"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.RequestProductionAccess(ctx, tr.acme.ID, models.NewProductionAccessRequest{IntendedUse: c.use, MonthlyVolume: c.volume})
			if fieldError(err, c.field) == "" {
				t.Fatalf("err %v, want a message for %s", err, c.field)
			}
		})
	}
	if latest, err := s.LatestProductionAccessRequest(ctx, tr.acme.ID); err != nil || latest != nil {
		t.Fatalf("refused requests were kept: %+v, %v", latest, err)
	}
	req := requestAccess(ctx, t, s, tr.acme.ID)
	if req.Status != models.AccessPending || req.MonthlyVolume != 1500 || req.IntendedUse != "Employment checks\nfrom our HR system" ||
		req.RequestedByUserID == nil || *req.RequestedByUserID != tr.alice.ID {
		t.Errorf("stored %+v", req)
	}
	if _, err := s.RequestProductionAccess(ctx, tr.acme.ID, models.NewProductionAccessRequest{IntendedUse: "Again", MonthlyVolume: "1"}); !strings.Contains(fieldError(err, "intended_use"), "already has a request waiting") {
		t.Errorf("a second request while one waits: %v", err)
	}
	// Only its own: another company asks on its own.
	requestAccess(ctx, t, s, tr.globex.ID)
	if _, err := s.DecideAccessRequestInTree(ctx, tr.platform.ID, req.ID, true, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RequestProductionAccess(ctx, tr.acme.ID, models.NewProductionAccessRequest{IntendedUse: "More", MonthlyVolume: "1"}); !strings.Contains(fieldError(err, "intended_use"), "already has production access") {
		t.Errorf("a request once approved: %v", err)
	}
	// The unique index holds below the Go layer too.
	err := s.ExecForTest(ctx, "INSERT INTO production_access_requests (tenant_id, intended_use, monthly_volume, status) VALUES (?, 'x', 1, 'pending'), (?, 'y', 1, 'pending')", tr.eu.ID, tr.eu.ID)
	if err == nil {
		t.Error("two pending requests of one company were stored")
	}
	var requested int64
	s.DBForTest(ctx).Table("audit_events").Where("tenant_id = ? AND action = ?", tr.acme.ID, models.AuditProductionAccessRequested).Count(&requested)
	if requested != 1 {
		t.Errorf("%d production_access.requested events", requested)
	}
}

// TestDecideAccessRequestInTree: staff decide a request of any company in
// the tree below the root they decide for, never one of another tree, and
// only while it waits; a decline needs a reason; the decision is audited
// in the company's log and emailed to its Admins and Super Admins.
func TestDecideAccessRequestInTree(t *testing.T) {
	tr := newTree(t)
	s := tr.store
	staff := models.WithActor(context.Background(), models.Actor{Email: "staff@canopy.test"})
	bob := mustUser(t, s, "bob@globex.test")
	viewer := mustUser(t, s, "viewer@acme.test")
	if _, err := s.AddMember(staff, tr.acme.ID, bob.ID, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddMember(staff, tr.acme.ID, viewer.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	acme := requestAccess(staff, t, s, tr.acme.ID)
	globex := requestAccess(staff, t, s, tr.globex.ID)
	lab := requestAccess(staff, t, s, tr.euLab.ID)
	mails := 0
	mail := func(r *models.ProductionAccessRequest, tn *models.Tenant, to *models.User) models.NewEmail {
		mails++
		return models.NewEmail{Subject: string(r.Status) + " for " + tn.Name, Body: "Hello " + to.Email + ": " + r.DecisionReason}
	}
	for _, c := range []struct {
		name    string
		root    int64
		req     *models.ProductionAccessRequest
		approve bool
		reason  string
		status  models.ProductionAccessStatus // after; "" when refused
		err     error
		field   string
	}{
		{"a decline needs a reason", tr.platform.ID, acme, false, "  ", "", nil, "reason"},
		{"another tree's request", tr.acme.ID, globex, true, "", "", models.ErrNotFound, ""},
		{"a request of the tree above", tr.eu.ID, acme, true, "", "", models.ErrNotFound, ""},
		{"an unknown id", tr.platform.ID, &models.ProductionAccessRequest{ID: 1 << 40}, true, "", "", models.ErrNotFound, ""},
		{"staff approve a company's request", tr.platform.ID, acme, true, "", models.AccessApproved, nil, ""},
		{"decided already", tr.platform.ID, acme, false, "Changed my mind.", "", models.ErrChangedMeanwhile, ""},
		{"staff decline, saying why", tr.platform.ID, globex, false, "  Tell us more.  ", models.AccessDeclined, nil, ""},
		{"at any depth below the root", tr.platform.ID, lab, true, "", models.AccessApproved, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.DecideAccessRequestInTree(staff, c.root, c.req.ID, c.approve, c.reason, mail)
			switch {
			case c.field != "":
				if fieldError(err, c.field) == "" {
					t.Fatalf("err %v, want a message for %s", err, c.field)
				}
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if got.Status != c.status || got.DecidedAt == nil || got.DecisionReason != strings.TrimSpace(c.reason) {
					t.Errorf("decided %+v, want %s", got, c.status)
				}
			}
		})
	}
	ctx := context.Background()
	for tenant, want := range map[int64]models.ProductionAccessStatus{tr.acme.ID: models.AccessApproved, tr.globex.ID: models.AccessDeclined} {
		latest, err := s.LatestProductionAccessRequest(ctx, tenant)
		if err != nil || latest.Status != want {
			t.Errorf("tenant %d: %+v, %v", tenant, latest, err)
		}
	}
	// Acme's Admins and Super Admin were told, its Viewer not.
	for email, want := range map[string]int{"alice@acme.test": 1, "bob@globex.test": 1, "viewer@acme.test": 0} {
		msgs, err := s.OutboxFor(ctx, email)
		if err != nil || len(msgs) != want {
			t.Errorf("emails to %s: %d (%v), want %d", email, len(msgs), err, want)
		}
	}
	if msgs, _ := s.OutboxFor(ctx, "alice@acme.test"); len(msgs) == 1 && msgs[0].Subject != "approved for Acme Corp" {
		t.Errorf("alice's email: %q", msgs[0].Subject)
	}
	var events []models.AuditEvent
	s.DBForTest(ctx).Where("action IN ?", []string{models.AuditProductionAccessApproved, models.AuditProductionAccessDeclined}).Order("id").Find(&events)
	if len(events) != 3 || events[0].TenantID != tr.acme.ID || events[1].TenantID != tr.globex.ID || events[0].ActorEmail != "staff@canopy.test" ||
		events[1].After == nil || !strings.Contains(*events[1].After, "Tell us more.") {
		t.Errorf("decision events: %+v", events)
	}
	pending, err := s.PendingAccessRequests(ctx, tr.platform.ID, models.PageRequest{Number: 1, Size: 10})
	if err != nil || pending.Total != 0 {
		t.Errorf("pending after deciding all: %+v, %v", pending, err)
	}
	decided, err := s.DecidedAccessRequests(ctx, tr.platform.ID)
	if err != nil || len(decided) != 3 || decided[0].TenantName == "" {
		t.Errorf("decided: %+v, %v", decided, err)
	}
}

// TestRLSProductionAccessAndKeys: under row-level security another
// company's scope neither reads a company's request nor decides it, nor
// finds its keys, even given their ids and hashes; the platform's scope
// sees and decides every company's.
func TestRLSProductionAccessAndKeys(t *testing.T) {
	w := newRLSWorld(t)
	owner := models.NewStore(w.owner).WithScopeKey(testdb.ScopeKey)
	acme, globex, platform := w.tenant["acme"], w.tenant["globex"], w.tenant["admin"]
	req := requestAccess(context.Background(), t, owner, acme)
	secret, key := mustCreateKey(t, owner, acme, "Acme ERP", models.APISandbox)
	for name, scope := range map[string]models.Scope{
		"globex":              {TenantID: globex, Subtree: true},
		"acme-eu, below acme": {TenantID: w.tenant["acme-eu"], Subtree: true},
		"a person alone":      {UserID: 1},
	} {
		t.Run(name, func(t *testing.T) {
			err := w.within(scope, func(ctx context.Context, tx *models.Store) error {
				if latest, err := tx.LatestProductionAccessRequest(ctx, acme); err != nil || latest != nil {
					t.Errorf("read acme's request: %+v, %v", latest, err)
				}
				if p, err := tx.PendingAccessRequests(ctx, scope.TenantID+1, models.PageRequest{Number: 1, Size: 10}); err != nil || p.Total != 0 {
					t.Errorf("listed requests: %+v, %v", p, err)
				}
				if _, err := tx.DecideAccessRequestInTree(ctx, platform, req.ID, true, "", nil); !errors.Is(err, models.ErrNotFound) {
					t.Errorf("decided acme's request: %v", err)
				}
				if _, err := tx.APIKeyByHash(ctx, acme, testHasher.Hash(secret)); !errors.Is(err, models.ErrNotFound) {
					t.Errorf("found acme's key by its hash: %v", err)
				}
				if keys, err := tx.ListAPIKeys(ctx, acme); err != nil || len(keys) != 0 {
					t.Errorf("listed acme's keys: %d, %v", len(keys), err)
				}
				if _, err := tx.RevokeAPIKey(ctx, acme, key.ID); !errors.Is(err, models.ErrNotFound) {
					t.Errorf("revoked acme's key: %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	err := w.within(models.Scope{TenantID: platform, Subtree: true}, func(ctx context.Context, tx *models.Store) error {
		p, err := tx.PendingAccessRequests(ctx, platform, models.PageRequest{Number: 1, Size: 10})
		if err != nil || p.Total != 1 || p.Items[0].TenantName != "Acme Corp" {
			t.Errorf("the platform's pending requests: %+v, %v", p, err)
		}
		_, err = tx.DecideAccessRequestInTree(ctx, platform, req.ID, false, "Tell us more.", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if latest, _ := owner.LatestProductionAccessRequest(context.Background(), acme); latest.Status != models.AccessDeclined {
		t.Errorf("after the platform declined: %+v", latest)
	}
}
