package models_test

import (
	"context"
	"testing"
	"time"

	"canopy/models"
)

func TestBillingPlanCompaniesCountsTermsInForce(t *testing.T) {
	w := newPlatformWorld(t)
	ctx := context.Background()
	month := models.MonthOf(time.Now(), time.UTC)
	standard, err := w.store.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	growth, err := w.store.CreateBillingPlan(ctx, w.platform.ID, models.NewBillingPlan{Name: "Growth", Currency: "EUR", BaseFee: 9900})
	if err != nil {
		t.Fatal(err)
	}
	before, err := w.store.BillingPlanCompanies(ctx, month)
	if err != nil {
		t.Fatal(err)
	}
	// acme, globex, initech and acme-eu; the platform has no terms.
	if before[standard.ID] != 4 || before[growth.ID] != 0 {
		t.Fatalf("companies by plan %v", before)
	}
	// A change counts from the month it applies in, not before.
	if _, err := w.store.ChangeBillingTerms(ctx, w.globex.ID, growth.ID, 0); err != nil {
		t.Fatal(err)
	}
	now, _ := w.store.BillingPlanCompanies(ctx, month)
	next, _ := w.store.BillingPlanCompanies(ctx, month.Next())
	if now[standard.ID] != 4 || next[standard.ID] != 3 || next[growth.ID] != 1 {
		t.Fatalf("this month %v, next month %v", now, next)
	}
}

func TestBillToChoices(t *testing.T) {
	w := newPlatformWorld(t)
	ctx := context.Background()
	names := func(cs []models.BillToCandidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	chosen, all, err := w.store.BillToChoices(ctx, w.platform.ID, w.globex.ID, 0, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(all); chosen != nil || len(got) != 3 || got[0] != "Acme Corp" || got[1] != "Acme Europe" || got[2] != "Initech" {
		t.Fatalf("every company but Globex and the platform: %v, chosen %v", got, chosen)
	}
	if !all[0].TopLevel || all[1].TopLevel || all[1].ParentName != "Acme Corp" {
		t.Fatalf("where they sit: %+v", all)
	}
	// By subdomain too, in any case, with LIKE's wildcards taken
	// literally; the company chosen comes first, matching or not.
	chosen, found, err := w.store.BillToChoices(ctx, w.platform.ID, 0, w.initech.ID, "ACME-E", true)
	if err != nil || chosen == nil || chosen.Name != "Initech" || len(found) != 1 || found[0].Name != "Acme Europe" {
		t.Fatalf("search ACME-E with Initech chosen: %v, %v, %v", chosen, names(found), err)
	}
	if chosen, found, _ := w.store.BillToChoices(ctx, w.platform.ID, 0, w.acmeEU.ID, "acme", true); chosen == nil || len(found) != 2 || found[0].Name != "Acme Europe" {
		t.Fatalf("search acme with Acme Europe chosen: %v, %v", chosen, names(found))
	}
	if _, found, _ := w.store.BillToChoices(ctx, w.platform.ID, 0, 0, "%", true); len(found) != 0 {
		t.Fatalf("search %%: %v", names(found))
	}
	// Not searched: the company chosen alone; the platform is none.
	if chosen, found, _ := w.store.BillToChoices(ctx, w.platform.ID, 0, w.acme.ID, "", false); chosen == nil || chosen.ID != w.acme.ID || len(found) != 0 {
		t.Fatalf("acme chosen: %v, %v", chosen, names(found))
	}
	if chosen, _, _ := w.store.BillToChoices(ctx, w.platform.ID, 0, w.platform.ID, "", false); chosen != nil {
		t.Fatalf("the platform as a company to bill: %+v", chosen)
	}
	// Only the platform offers companies to bill.
	if chosen, found, _ := w.store.BillToChoices(ctx, w.acme.ID, 0, w.acmeEU.ID, "", true); chosen != nil || len(found) != 0 {
		t.Fatalf("from a customer's tenant: %v, %v", chosen, names(found))
	}
}

// TestBillingTermsFrom: a company's terms in force and the change after
// them, with where each bill goes and goes on to.
func TestBillingTermsFrom(t *testing.T) {
	w := newPlatformWorld(t)
	ctx := context.Background()
	month := models.MonthOf(time.Now(), time.UTC)
	standard, err := w.store.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ChangeBillingTerms(ctx, w.acme.ID, standard.ID, w.initech.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ChangeBillingTerms(ctx, w.acmeEU.ID, standard.ID, w.acme.ID); err != nil {
		t.Fatal(err)
	}
	terms, err := w.store.BillingTermsFrom(ctx, w.acmeEU.ID, month)
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) != 2 || terms[0].BillToTenantID != nil || terms[1].EffectiveMonth != month.Next() ||
		terms[1].BillToName != "Acme Corp" || terms[1].OnwardName != "Initech" {
		t.Fatalf("acme-eu's terms from %s: %+v", month, terms)
	}
	if later, _ := w.store.BillingTermsFrom(ctx, w.acmeEU.ID, month.Next()); len(later) != 1 || later[0].EffectiveMonth != month.Next() {
		t.Fatalf("from next month: %+v", later)
	}
}

// TestStaffStartingTerms: the plan and bill-to staff choose for a company
// they create are checked beside their fields, and are its first terms.
func TestStaffStartingTerms(t *testing.T) {
	w := newPlatformWorld(t)
	ctx := context.Background()
	old, err := w.store.CreateBillingPlan(ctx, w.platform.ID, models.NewBillingPlan{Name: "Legacy", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.ArchiveBillingPlan(ctx, w.platform.ID, old.ID); err != nil {
		t.Fatal(err)
	}
	n := models.NewSubTenant{ParentID: w.platform.ID, ActorUserID: w.alice.ID, Name: "Umbrella", Subdomain: "umbrella",
		Description: "Umbrella's shipments.", Email: "owner@umbrella.test", Timezone: "UTC", PlanID: old.ID, BillToTenantID: w.platform.ID}
	err = w.store.ValidateSubTenant(ctx, &n)
	if fieldError(err, "plan_id") != "This plan is archived. Choose another." || fieldError(err, "bill_to") == "" {
		t.Fatalf("archived plan, billed to the platform: %v", err)
	}
	n.PlanID, n.BillToTenantID = 999999, 999999
	err = w.store.ValidateSubTenant(ctx, &n)
	if fieldError(err, "plan_id") != "Choose a plan from the list." || fieldError(err, "bill_to") != "Choose a company from the list." {
		t.Fatalf("unknown plan and company: %v", err)
	}
	growth, err := w.store.CreateBillingPlan(ctx, w.platform.ID, models.NewBillingPlan{Name: "Growth", Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	n.PlanID, n.BillToTenantID = growth.ID, w.acme.ID
	mail := &sentMail{}
	umbrella, err := w.store.CreateSubTenant(ctx, n, mail.build)
	if err != nil {
		t.Fatal(err)
	}
	terms, err := w.store.BillingTermsAt(ctx, umbrella.ID, models.MonthOf(time.Now(), umbrella.Location()))
	if err != nil {
		t.Fatal(err)
	}
	if terms.PlanID != growth.ID || terms.BillToTenantID == nil || *terms.BillToTenantID != w.acme.ID {
		t.Fatalf("umbrella's first terms %+v", terms)
	}
}

// TestBillingPlanNameTakenBesideField: a name taken in any case is refused
// beside the name, on SQLite as on PostgreSQL.
func TestBillingPlanNameTakenBesideField(t *testing.T) {
	w := newWorld(t)
	_, err := w.store.CreateBillingPlan(context.Background(), w.platform.ID, models.NewBillingPlan{Name: "STANDARD", Currency: "USD"})
	if fieldError(err, "name") != "A plan with this name exists. Choose another name." {
		t.Fatalf("taken name: %v", err)
	}
}

func TestTemplateCategory(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tpl, err := w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, models.NewTemplate{Name: "Background check", BrandingCompanyName: "Acme",
		Collects: []string{"identity"}, Category: models.CategoryPremium})
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Category != models.CategoryPremium {
		t.Fatalf("created as %q", tpl.Category)
	}
	plain, err := w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, models.NewTemplate{Name: "Plain", BrandingCompanyName: "Acme", Collects: []string{"identity"}})
	if err != nil || plain.Category != models.CategoryStandard {
		t.Fatalf("no category: %v, %q", err, plain.Category)
	}
	_, err = w.store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, models.NewTemplate{Name: "Background check", BrandingCompanyName: "Acme",
		Collects: []string{"identity"}, Category: "gold"})
	if fieldError(err, "category") != "Choose a category from the list." {
		t.Fatalf("unknown category: %v", err)
	}
	if _, err := w.store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, models.NewTemplate{Name: "Background check", BrandingCompanyName: "Acme",
		Collects: []string{"identity"}, Category: models.CategoryStandard}); err != nil {
		t.Fatal(err)
	}
	got, err := w.store.TemplateByID(ctx, w.acme.ID, tpl.ID)
	if err != nil || got.Category != models.CategoryStandard {
		t.Fatalf("after the edit: %v, %q", err, got.Category)
	}
}
