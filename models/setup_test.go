package models_test

import (
	"context"
	"testing"

	"canopy/models"
)

// Home's checklist asks whether things exist, never how many; each step
// reads its tenant's rows only.
func TestSetupOfAsksWhatExists(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	// A template without a branding company name is one made before the
	// name was required: the owner clears it.
	template := func(tenantID int64, name string, branded bool) {
		t.Helper()
		tpl, err := w.store.CreateTemplate(ctx, tenantID, w.alice.ID, models.NewTemplate{Name: name, BrandingCompanyName: "Brand",
			Collects: []string{models.OrderDataKinds[0].Key}})
		if err == nil && !branded {
			err = w.store.ExecForTest(ctx, "UPDATE templates SET branding_company_name = '' WHERE id = ?", tpl.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name                      string
		do                        func()
		templates, unbranded, set bool
	}{
		{"a new company", func() {}, false, false, false},
		{"another company's unbranded template", func() { template(w.globex.ID, "Elsewhere", false) }, false, false, false},
		{"a branded template", func() { template(w.acme.ID, "Loans", true) }, true, false, true},
		{"an unbranded one beside it", func() { template(w.acme.ID, "Leases", false) }, true, true, false},
	}
	for _, step := range steps {
		step.do()
		st, err := w.store.SetupOf(ctx, w.acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Members != 1 || st.HasTemplates != step.templates || st.HasUnbrandedTemplate != step.unbranded ||
			st.TemplatesBranded() != step.set || st.HasProductionKeys || st.ProductionApproved || st.ProductionPending {
			t.Errorf("after %s: %+v", step.name, st)
		}
	}
	if _, err := w.store.SetupOf(ctx, 0); err == nil {
		t.Error("a setup read without a tenant")
	}
}
