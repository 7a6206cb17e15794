package models_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"canopy/models"
)

func countOrders(t *testing.T, store *models.Store, tenantID int64) int64 {
	t.Helper()
	p, err := store.ListOrders(context.Background(), tenantID, models.OrderFilter{}, models.PageRequest{Number: 1, Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

func TestCreateOrderValidation(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	valid := models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane Roe", ApplicantEmail: "jane@example.com", Reference: "LN-1"}
	cases := []struct {
		name  string
		edit  func(n *models.NewOrder)
		field string
	}{
		{"no template", func(n *models.NewOrder) { n.TemplateID = 0 }, "template_id"},
		{"unknown template", func(n *models.NewOrder) { n.TemplateID = tpl.ID + 1000 }, "template_id"},
		{"missing applicant", func(n *models.NewOrder) { n.ApplicantName = "  " }, "applicant_name"},
		{"long applicant", func(n *models.NewOrder) { n.ApplicantName = strings.Repeat("a", 201) }, "applicant_name"},
		{"bad email", func(n *models.NewOrder) { n.ApplicantEmail = "jane@" }, "applicant_email"},
		{"long reference", func(n *models.NewOrder) { n.Reference = strings.Repeat("r", 101) }, "reference"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := valid
			c.edit(&n)
			if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n); fieldError(err, c.field) == "" {
				t.Fatalf("got %v, want a message beside %s", err, c.field)
			}
		})
	}
	if n := countOrders(t, w.store, w.acme.ID); n != 0 {
		t.Fatalf("invalid input wrote %d orders", n)
	}

	n := valid
	n.ApplicantName, n.ApplicantEmail, n.Reference = " Jane Roe ", " Jane@Example.com ", " LN-1 "
	o, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != models.OrderPending || o.ApplicantName != "Jane Roe" || o.ApplicantEmail != "jane@example.com" ||
		o.Reference != "LN-1" || o.CreatedByUserID == nil || *o.CreatedByUserID != w.dave.ID || o.TenantID != w.acme.ID {
		t.Fatalf("stored %+v", o)
	}
	// The email is optional.
	n.ApplicantEmail = ""
	if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n); err != nil {
		t.Fatalf("without email: %v", err)
	}
}

func TestCreateOrderRefusesTemplatesTheMemberMayNotUse(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	emp := mustTemplate(t, w.store, w.acme.ID, "Employment")
	inc := mustTemplate(t, w.store, w.acme.ID, "Income")
	foreign := mustTemplate(t, w.store, w.globex.ID, "Globex only")
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{inc.ID}); err != nil {
		t.Fatal(err)
	}
	order := func(membershipID, templateID int64) error {
		_, err := w.store.CreateOrder(ctx, w.acme.ID, membershipID, models.NewOrder{TemplateID: templateID, ApplicantName: "Jane Roe"})
		return err
	}
	if err := order(w.daveAtAcme.ID, emp.ID); fieldError(err, "template_id") == "" {
		t.Fatalf("restricted template: %v", err)
	}
	if err := order(w.daveAtAcme.ID, foreign.ID); fieldError(err, "template_id") == "" {
		t.Fatalf("another company's template: %v", err)
	}
	if err := order(w.aliceAtAcme.ID, foreign.ID); fieldError(err, "template_id") == "" {
		t.Fatalf("another company's template, unrestricted member: %v", err)
	}
	// A membership of another company cannot order in acme.
	bobAtGlobex, _ := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	if err := order(bobAtGlobex.ID, emp.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("foreign membership: %v", err)
	}
	if n := countOrders(t, w.store, w.acme.ID) + countOrders(t, w.store, w.globex.ID); n != 0 {
		t.Fatalf("refused orders wrote %d rows", n)
	}
	if err := order(w.daveAtAcme.ID, inc.ID); err != nil {
		t.Fatalf("allowed template: %v", err)
	}
	if err := order(w.aliceAtAcme.ID, emp.ID); err != nil {
		t.Fatalf("unrestricted member: %v", err)
	}
	// Below the Go layer, the database refuses an order whose template is
	// another tenant's.
	err := w.store.ExecForTest(ctx, `INSERT INTO orders (tenant_id, template_id, applicant_name) VALUES (?, ?, 'x')`, w.acme.ID, foreign.ID)
	if err == nil {
		t.Fatal("the database took an order with another tenant's template")
	}
}

func TestListOrdersSearchPagesAndNames(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	emp := mustTemplate(t, w.store, w.acme.ID, "Employment")
	inc := mustTemplate(t, w.store, w.acme.ID, "Income")
	g := mustTemplate(t, w.store, w.globex.ID, "Globex only")
	bobAtGlobex, _ := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	if _, err := w.store.CreateOrder(ctx, w.globex.ID, bobAtGlobex.ID, models.NewOrder{TemplateID: g.ID, ApplicantName: "Globex applicant"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		tpl, m := emp, w.aliceAtAcme
		if i%2 == 0 {
			tpl, m = inc, w.daveAtAcme
		}
		n := models.NewOrder{TemplateID: tpl.ID, ApplicantName: fmt.Sprintf("Applicant %d", i), Reference: fmt.Sprintf("REF-%03d", i)}
		if i == 7 {
			n.ApplicantName, n.Reference = "Wilma 100%_match", "SPECIAL"
		}
		if _, err := w.store.CreateOrder(ctx, w.acme.ID, m.ID, n); err != nil {
			t.Fatal(err)
		}
	}
	o, err := w.store.OrderByReference(ctx, w.acme.ID, "REF-002")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetOrderStatus(ctx, w.acme.ID, o.ID, models.OrderCompleted); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetOrderStatus(ctx, w.acme.ID, o.ID, "lost"); fieldError(err, "status") == "" {
		t.Fatalf("unknown status: %v", err)
	}
	if err := w.store.SetOrderStatus(ctx, w.globex.ID, o.ID, models.OrderCancelled); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("status of another company's order: %v", err)
	}

	all, err := w.store.ListOrders(ctx, w.acme.ID, models.OrderFilter{}, models.PageRequest{Number: 1, Size: 3})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 7 || len(all.Items) != 3 || !all.HasNext() || all.HasPrev() {
		t.Fatalf("page 1: total %d, %d items", all.Total, len(all.Items))
	}
	if first := all.Items[0]; first.Reference != "SPECIAL" || first.TemplateName != "Employment" || first.CreatorName() != "Test" || first.CreatorEmail != "alice@acme.test" {
		t.Fatalf("newest first with names: %+v", first)
	}
	last, _ := w.store.ListOrders(ctx, w.acme.ID, models.OrderFilter{}, models.PageRequest{Number: 3, Size: 3})
	if len(last.Items) != 1 || last.Items[0].Reference != "REF-001" || last.HasNext() {
		t.Fatalf("page 3: %+v", last.Items)
	}

	search := func(q string) []string {
		t.Helper()
		p, err := w.store.ListOrders(ctx, w.acme.ID, models.OrderFilter{Query: q}, models.PageRequest{Number: 1, Size: 20})
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, it := range p.Items {
			refs = append(refs, it.Reference)
		}
		if int64(len(refs)) != p.Total {
			t.Fatalf("search %q: %d items, total %d", q, len(refs), p.Total)
		}
		return refs
	}
	if got := search("ref-002"); len(got) != 1 || got[0] != "REF-002" {
		t.Fatalf("by reference: %v", got)
	}
	if got := search("APPLICANT 4"); len(got) != 1 || got[0] != "REF-004" {
		t.Fatalf("by name: %v", got)
	}
	if got := search("100%_"); len(got) != 1 || got[0] != "SPECIAL" {
		t.Fatalf("wildcards taken literally: %v", got)
	}
	if got := search("%"); len(got) != 1 {
		t.Fatalf("a lone %% matches only itself: %v", got)
	}
	if got := search("globex"); len(got) != 0 {
		t.Fatalf("search reached another company: %v", got)
	}
	p, _ := w.store.ListOrders(ctx, w.acme.ID, models.OrderFilter{Query: "REF-002"}, models.PageRequest{Number: 1, Size: 5})
	if p.Items[0].Status != models.OrderCompleted || p.Items[0].TemplateName != "Income" {
		t.Fatalf("status and template: %+v", p.Items[0])
	}
}

func TestOrdersRefuseZeroTenant(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	checks := map[string]func() error{
		"CreateOrder": func() error {
			_, err := w.store.CreateOrder(ctx, 0, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane"})
			return err
		},
		"ListOrders": func() error {
			_, err := w.store.ListOrders(ctx, 0, models.OrderFilter{}, models.PageRequest{Number: 1, Size: 10})
			return err
		},
		"SetOrderStatus":   func() error { return w.store.SetOrderStatus(ctx, 0, 1, models.OrderCompleted) },
		"OrderByReference": func() error { _, err := w.store.OrderByReference(ctx, 0, "x"); return err },
	}
	for name, fn := range checks {
		if err := fn(); !errors.Is(err, models.ErrNoTenant) {
			t.Errorf("%s with tenant 0: %v, want ErrNoTenant", name, err)
		}
	}
}
