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
			if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n, nil); fieldError(err, c.field) == "" {
				t.Fatalf("got %v, want a message beside %s", err, c.field)
			}
		})
	}
	if n := countOrders(t, w.store, w.acme.ID); n != 0 {
		t.Fatalf("invalid input wrote %d orders", n)
	}

	n := valid
	n.ApplicantName, n.ApplicantEmail, n.Reference = " Jane Roe ", " Jane@Example.com ", " LN-1 "
	o, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != models.OrderPending || o.ApplicantName != "Jane Roe" || o.ApplicantEmail != "jane@example.com" ||
		o.Reference != "LN-1" || o.CreatedByUserID == nil || *o.CreatedByUserID != w.dave.ID || o.TenantID != w.acme.ID {
		t.Fatalf("stored %+v", o)
	}
	// The email is optional.
	n.ApplicantEmail, n.Reference = "", "LN-2"
	if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, n, nil); err != nil {
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
		_, err := w.store.CreateOrder(ctx, w.acme.ID, membershipID, models.NewOrder{TemplateID: templateID, ApplicantName: "Jane Roe"}, nil)
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
	if _, err := w.store.CreateOrder(ctx, w.globex.ID, bobAtGlobex.ID, models.NewOrder{TemplateID: g.ID, ApplicantName: "Globex applicant"}, nil); err != nil {
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
		if _, err := w.store.CreateOrder(ctx, w.acme.ID, m.ID, n, nil); err != nil {
			t.Fatal(err)
		}
	}
	o, err := w.store.OrderByReference(ctx, w.acme.ID, "REF-002")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ChangeOrderStatus(ctx, w.acme.ID, o.ID, models.OrderCompleted); !errors.Is(err, models.ErrOrderTransition) {
		t.Fatalf("pending straight to completed: %v, want ErrOrderTransition", err)
	}
	for _, step := range models.OrderPending.PathTo(models.OrderCompleted) {
		if _, err := w.store.ChangeOrderStatus(ctx, w.acme.ID, o.ID, step); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.store.ChangeOrderStatus(ctx, w.acme.ID, o.ID, models.OrderCancelled); !errors.Is(err, models.ErrOrderTransition) {
		t.Fatalf("a completed order cancelled: %v, want ErrOrderTransition", err)
	}
	if _, err := w.store.ChangeOrderStatus(ctx, w.acme.ID, o.ID, "lost"); fieldError(err, "status") == "" {
		t.Fatalf("unknown status: %v", err)
	}
	if _, err := w.store.ChangeOrderStatus(ctx, w.globex.ID, o.ID, models.OrderCancelled); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("status of another company's order: %v", err)
	}
	events, err := w.store.OrderEvents(ctx, w.acme.ID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range events {
		steps = append(steps, string(e.ToStatus))
	}
	if got := strings.Join(steps, " "); got != "pending in_progress completed" {
		t.Fatalf("history %q, want creation, in progress, completed", got)
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
			_, err := w.store.CreateOrder(ctx, 0, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane"}, nil)
			return err
		},
		"ListOrders": func() error {
			_, err := w.store.ListOrders(ctx, 0, models.OrderFilter{}, models.PageRequest{Number: 1, Size: 10})
			return err
		},
		"ChangeOrderStatus": func() error { _, err := w.store.ChangeOrderStatus(ctx, 0, 1, models.OrderCompleted); return err },
		"OrderByReference":  func() error { _, err := w.store.OrderByReference(ctx, 0, "x"); return err },
	}
	for name, fn := range checks {
		if err := fn(); !errors.Is(err, models.ErrNoTenant) {
			t.Errorf("%s with tenant 0: %v, want ErrNoTenant", name, err)
		}
	}
}

// orderMail builds an applicant's email as the handlers do, recording what
// it was given.
type orderMail struct{ orders []*models.Order }

func (m *orderMail) build(o *models.Order, t *models.Template) models.NewEmail {
	m.orders = append(m.orders, o)
	return models.NewEmail{Subject: t.BrandingCompanyName + " asks", Body: "Hello " + o.ApplicantName}
}

func TestOrderEmailsItsApplicantInTheSameTransaction(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	mail := &orderMail{}
	if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane Roe",
		ApplicantEmail: "Jane@Example.com", Reference: "LN-1"}, mail.build); err != nil {
		t.Fatal(err)
	}
	msgs, err := w.store.OutboxFor(ctx, "jane@example.com")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("emails to the applicant: %d (%v)", len(msgs), err)
	}
	if msgs[0].Subject != "Brand asks" || msgs[0].TenantID == nil || *msgs[0].TenantID != w.acme.ID {
		t.Fatalf("email %+v", msgs[0])
	}
	// No applicant email: nothing is sent.
	if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "No Mail"}, mail.build); err != nil {
		t.Fatal(err)
	}
	if len(mail.orders) != 1 {
		t.Fatalf("%d emails written for 2 orders, one without an email", len(mail.orders))
	}
	// A refused order sends nothing.
	_, err = w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Twice",
		ApplicantEmail: "twice@example.com", Reference: "ln-1"}, mail.build)
	if fieldError(err, "reference") == "" {
		t.Fatalf("a taken reference: %v", err)
	}
	if msgs, _ := w.store.OutboxFor(ctx, "twice@example.com"); len(msgs) != 0 {
		t.Fatal("a refused order emailed its applicant")
	}
}

func TestOrderReferencesAreUniquePerCompany(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	emp := mustTemplate(t, w.store, w.acme.ID, "Employment")
	g := mustTemplate(t, w.store, w.globex.ID, "Globex only")
	bobAtGlobex, _ := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	order := func(tenantID, membershipID, templateID int64, reference string) error {
		_, err := w.store.CreateOrder(ctx, tenantID, membershipID, models.NewOrder{TemplateID: templateID, ApplicantName: "Jane Roe", Reference: reference}, nil)
		return err
	}
	if err := order(w.acme.ID, w.daveAtAcme.ID, emp.ID, "LN-7"); err != nil {
		t.Fatal(err)
	}
	for _, again := range []string{"LN-7", "ln-7", " Ln-7 "} {
		if err := order(w.acme.ID, w.aliceAtAcme.ID, emp.ID, again); !strings.Contains(fieldError(err, "reference"), "Another order already has this reference") {
			t.Fatalf("reference %q again: %v", again, err)
		}
	}
	// Another company may use it, and orders without a reference are many.
	if err := order(w.globex.ID, bobAtGlobex.ID, g.ID, "LN-7"); err != nil {
		t.Fatalf("the same reference in another company: %v", err)
	}
	for range 2 {
		if err := order(w.acme.ID, w.daveAtAcme.ID, emp.ID, ""); err != nil {
			t.Fatalf("no reference: %v", err)
		}
	}
	if n := countOrders(t, w.store, w.acme.ID); n != 3 {
		t.Fatalf("acme has %d orders, want 3", n)
	}
}

// The migration that makes references unique keeps orders that already
// share one, renaming all but the oldest instead of failing.
func TestReferenceMigrationKeepsExistingDuplicates(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	// The templates are made first: today's CreateTemplate writes columns
	// later migrations add (a template's category), and migrating down
	// keeps them.
	emp := mustTemplate(t, w.store, w.acme.ID, "Employment")
	g := mustTemplate(t, w.store, w.globex.ID, "Globex only")
	if err := w.store.MigrateDownToForTest(ctx, 11); err != nil { // before 00012, which makes references unique
		t.Fatal(err)
	}
	bobAtGlobex, _ := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	var ids []int64
	for _, o := range []struct {
		tenant, membership, template int64
		reference                    string
	}{
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, "LN-1"},
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, "ln-1"},
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, strings.Repeat("L", 100)},
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, strings.Repeat("l", 100)},
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, ""},
		{w.acme.ID, w.aliceAtAcme.ID, emp.ID, ""},
		{w.globex.ID, bobAtGlobex.ID, g.ID, "LN-1"},
	} {
		// Written as the schema of then had them: today's CreateOrder
		// writes columns later migrations add.
		var id int64
		err := w.store.DBForTest(ctx).Raw(`INSERT INTO orders (tenant_id, template_id, applicant_name, reference, status, created_at, updated_at)
			VALUES (?, ?, 'A', ?, 'pending', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`, o.tenant, o.template, o.reference).Scan(&id).Error
		if err != nil {
			t.Fatalf("before the migration, %q: %v", o.reference, err)
		}
		ids = append(ids, id)
	}
	if err := w.store.MigrateForTest(ctx); err != nil {
		t.Fatalf("the migration failed on duplicates: %v", err)
	}
	want := []string{"LN-1", fmt.Sprintf("ln-1 #%d", ids[1]), strings.Repeat("L", 100),
		strings.Repeat("l", 100-len(fmt.Sprintf(" #%d", ids[3]))) + fmt.Sprintf(" #%d", ids[3]), "", "", "LN-1"}
	for i, id := range ids {
		var ref string
		if err := w.store.DBForTest(ctx).Raw("SELECT reference FROM orders WHERE id = ?", id).Scan(&ref).Error; err != nil {
			t.Fatal(err)
		}
		if ref != want[i] {
			t.Errorf("order %d: reference %q, want %q", i, ref, want[i])
		}
	}
	if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.aliceAtAcme.ID, models.NewOrder{TemplateID: emp.ID, ApplicantName: "A", Reference: "LN-1"}, nil); fieldError(err, "reference") == "" {
		t.Fatalf("after the migration, a duplicate: %v", err)
	}
}
