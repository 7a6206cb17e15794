package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"canopy/models"
)

func TestAPIOrders(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	sandbox, sandboxKey := a.apiKeyRow(t, "acme", models.APISandbox)
	live := a.apiKey(t, "acme", models.APIProduction)
	tpl := a.templateID("acme", "Employment verification")

	created := a.call(sandbox, http.MethodPost, apiURL("acme", "/orders"),
		fmt.Sprintf(`{"template_id": %d, "applicant_name": "Sam Sandbox", "applicant_email": "Sam@Example.test", "reference": "API-1"}`, tpl))
	wantStatus(t, created, http.StatusCreated)
	var o apiOrderBody
	decode(t, created, &o)
	if o.Object != "order" || o.Environment != "test" || o.Status != "pending" || o.TemplateID != tpl ||
		o.ApplicantEmail == nil || *o.ApplicantEmail != "sam@example.test" || o.CreatedByAPIKeyID == nil || *o.CreatedByAPIKeyID != sandboxKey.ID {
		t.Fatalf("created %+v", o)
	}
	if _, err := time.Parse(time.RFC3339, o.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", o.CreatedAt, err)
	}
	if len(o.History) != 1 || o.History[0].ToStatus != "pending" || !strings.Contains(o.History[0].Actor, "…"+sandbox[len(sandbox)-4:]) {
		t.Fatalf("history %+v", o.History)
	}
	// A test order emails nobody: trying an integration out must not
	// reach the applicants it names.
	mail, err := a.store.OutboxFor(context.Background(), "sam@example.test")
	if err != nil || len(mail) != 0 {
		t.Fatalf("a test order's applicant was emailed: %+v, %v", mail, err)
	}
	// The audit log names the key, never the key itself.
	audit := a.lastAudit("acme")
	if audit.Action != models.AuditOrderCreated || !strings.HasPrefix(audit.ActorEmail, `API key "Test key sandbox" (cnp_test_…`) || strings.Contains(audit.ActorEmail, sandbox) {
		t.Fatalf("audit %+v", audit)
	}
	liveOrder := a.call(live, http.MethodPost, apiURL("acme", "/orders"),
		fmt.Sprintf(`{"template_id": %d, "applicant_name": "Lea Live", "applicant_email": "lea@example.test"}`, tpl))
	wantStatus(t, liveOrder, http.StatusCreated)
	// A live order's applicant is emailed through the outbox, as from the dashboard.
	mail, err = a.store.OutboxFor(context.Background(), "lea@example.test")
	if err != nil || len(mail) != 1 || !strings.Contains(mail[0].BodyText, "Lea Live") {
		t.Fatalf("outbox %+v, %v", mail, err)
	}

	// Each environment sees its own orders only.
	var list apiListBody[apiOrderBody]
	decode(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders"), ""), &list)
	if len(list.Data) != 1 || list.Data[0].ID != o.ID || list.HasMore || list.NextCursor != nil {
		t.Fatalf("sandbox list %+v", list)
	}
	decode(t, a.call(live, http.MethodGet, apiURL("acme", "/orders?limit=100"), ""), &list)
	if len(list.Data) == 0 {
		t.Fatal("the production key sees no live order")
	}
	for _, lo := range list.Data {
		if lo.Environment != "live" || lo.ID == o.ID {
			t.Fatalf("production list shows %+v", lo)
		}
	}
	liveID := list.Data[0].ID
	wantAPIError(t, a.call(live, http.MethodGet, apiURL("acme", "/orders/"+strconv.FormatInt(o.ID, 10)), ""), http.StatusNotFound, "not_found")
	wantAPIError(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders/"+strconv.FormatInt(liveID, 10)), ""), http.StatusNotFound, "not_found")
	wantAPIError(t, a.call(sandbox, http.MethodPost, apiURL("acme", "/orders/"+strconv.FormatInt(liveID, 10)+"/cancel"), ""), http.StatusNotFound, "not_found")

	// A template of another company is refused beside the field.
	globex := a.apiKey(t, "globex", models.APISandbox)
	other := a.call(globex, http.MethodPost, apiURL("globex", "/orders"), fmt.Sprintf(`{"template_id": %d, "applicant_name": "X"}`, tpl))
	if e := wantAPIError(t, other, http.StatusUnprocessableEntity, "validation_failed"); e.Error.Param != "template_id" {
		t.Fatalf("param %q", e.Error.Param)
	}
	bad := wantAPIError(t, a.call(sandbox, http.MethodPost, apiURL("acme", "/orders"), `{"applicant_email": "nope"}`), http.StatusUnprocessableEntity, "validation_failed")
	if len(bad.Error.Errors) != 3 || bad.Error.Param != bad.Error.Errors[0].Param {
		t.Fatalf("every field's problem: %+v", bad.Error)
	}

	// Filters and pages.
	for i := range 3 {
		r := a.call(sandbox, http.MethodPost, apiURL("acme", "/orders"), fmt.Sprintf(`{"template_id": %d, "applicant_name": "Page %d"}`, tpl, i))
		wantStatus(t, r, http.StatusCreated)
	}
	var seen []int64
	cursor := ""
	for range 10 {
		var page apiListBody[apiOrderBody]
		decode(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders?limit=3"+cursor), ""), &page)
		for _, p := range page.Data {
			seen = append(seen, p.ID)
		}
		if !page.HasMore {
			break
		}
		cursor = "&starting_after=" + *page.NextCursor
	}
	if len(seen) != 4 || seen[3] != o.ID {
		t.Fatalf("pages gave %v", seen)
	}
	decode(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders?status=cancelled"), ""), &list)
	if len(list.Data) != 0 {
		t.Fatalf("status filter %+v", list.Data)
	}
	decode(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders?created_after="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), ""), &list)
	if len(list.Data) != 0 {
		t.Fatalf("created_after filter %+v", list.Data)
	}
	decode(t, a.call(sandbox, http.MethodGet, apiURL("acme", fmt.Sprintf("/orders?template_id=%d&created_before=%s", tpl, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))), ""), &list)
	if len(list.Data) != 4 {
		t.Fatalf("template and created_before filters gave %d", len(list.Data))
	}
	for _, q := range []string{"status=shipped", "limit=0", "limit=101", "created_after=yesterday", "starting_after=x", "template_id=-1"} {
		param, _, _ := strings.Cut(q, "=")
		if e := wantAPIError(t, a.call(sandbox, http.MethodGet, apiURL("acme", "/orders?"+q), ""), http.StatusBadRequest, "invalid_param"); e.Error.Param != param {
			t.Fatalf("%s: param %q", q, e.Error.Param)
		}
	}

	// Simulate walks each step; production keys may not; final is final.
	id := strconv.FormatInt(o.ID, 10)
	wantAPIError(t, a.call(live, http.MethodPost, apiURL("acme", "/orders/"+strconv.FormatInt(liveID, 10)+"/simulate"), `{"status": "completed"}`), http.StatusForbidden, "sandbox_only")
	wantAPIError(t, a.call(sandbox, http.MethodPost, apiURL("acme", "/orders/"+id+"/simulate"), `{"status": "shipped"}`), http.StatusUnprocessableEntity, "validation_failed")
	sim := a.call(sandbox, http.MethodPost, apiURL("acme", "/orders/"+id+"/simulate"), `{"status": "completed"}`)
	wantStatus(t, sim, http.StatusOK)
	decode(t, sim, &o)
	if o.Status != "completed" || len(o.History) != 3 || o.History[1].ToStatus != "in_progress" || *o.History[2].FromStatus != "in_progress" {
		t.Fatalf("simulated %+v", o)
	}
	wantAPIError(t, a.call(sandbox, http.MethodPost, apiURL("acme", "/orders/"+id+"/cancel"), ""), http.StatusConflict, "invalid_transition")
	wantAPIError(t, a.call(sandbox, http.MethodPost, apiURL("acme", "/orders/"+id+"/simulate"), `{"status": "cancelled"}`), http.StatusConflict, "invalid_transition")

	// Cancel a live order with the production key.
	cancelled := a.call(live, http.MethodPost, apiURL("acme", "/orders/"+strconv.FormatInt(liveID, 10)+"/cancel"), "")
	decode(t, cancelled, &o)
	if cancelled.status != http.StatusOK || o.Status != "cancelled" || o.History[len(o.History)-1].APIKeyID == nil {
		t.Fatalf("cancel: %d %+v", cancelled.status, o)
	}
	got := a.call(live, http.MethodGet, apiURL("acme", "/orders/"+strconv.FormatInt(liveID, 10)), "")
	decode(t, got, &o)
	if o.Status != "cancelled" {
		t.Fatalf("get after cancel %+v", o)
	}
}

func TestAPIDevices(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox, models.ScopeDevicesRead, models.ScopeDevicesWrite)

	created := a.call(key, http.MethodPost, apiURL("acme", "/devices"), `{"identifier": "API-DEV-1", "model": "Thermo Logger T-100"}`)
	wantStatus(t, created, http.StatusCreated)
	var d struct {
		ID              int64   `json:"id"`
		Identifier      string  `json:"identifier"`
		Status          string  `json:"status"`
		DeprovisionedAt *string `json:"deprovisioned_at"`
	}
	decode(t, created, &d)
	if d.Identifier != "API-DEV-1" || d.Status != "active" || d.DeprovisionedAt != nil {
		t.Fatalf("created %+v", d)
	}
	dup := wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/devices"), `{"identifier": "api-dev-1", "model": "X"}`), http.StatusUnprocessableEntity, "validation_failed")
	if dup.Error.Param != "identifier" {
		t.Fatalf("duplicate: %+v", dup.Error)
	}
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/devices"), `{"identifier": "A B", "model": "X", "status": "deprovisioned"}`), http.StatusUnprocessableEntity, "validation_failed")

	wantStatus(t, a.call(key, http.MethodPost, apiURL("acme", "/devices"), `{"identifier": "OTHER-2", "model": "M", "status": "inactive"}`), http.StatusCreated)
	var list apiListBody[struct {
		ID         int64  `json:"id"`
		Identifier string `json:"identifier"`
	}]
	decode(t, a.call(key, http.MethodGet, apiURL("acme", "/devices?q=api-dev"), ""), &list)
	if len(list.Data) != 1 || list.Data[0].ID != d.ID {
		t.Fatalf("search %+v", list)
	}
	decode(t, a.call(key, http.MethodGet, apiURL("acme", "/devices?limit=1"), ""), &list)
	if len(list.Data) != 1 || list.Data[0].Identifier != "OTHER-2" || !list.HasMore || list.NextCursor == nil {
		t.Fatalf("page %+v", list)
	}
	decode(t, a.call(key, http.MethodGet, apiURL("acme", "/devices?limit=1&cursor="+*list.NextCursor), ""), &list)
	if len(list.Data) != 1 || list.Data[0].ID != d.ID || list.HasMore || list.NextCursor != nil {
		t.Fatalf("next page %+v", list)
	}
	id := strconv.FormatInt(d.ID, 10)
	decode(t, a.call(key, http.MethodGet, apiURL("acme", "/devices/"+id), ""), &d)
	if d.Identifier != "API-DEV-1" {
		t.Fatalf("get %+v", d)
	}
	wantAPIError(t, a.call(key, http.MethodGet, apiURL("acme", "/devices/"+strconv.FormatInt(a.device("acme-eu", "EU-TL100-0001").ID, 10)), ""), http.StatusNotFound, "not_found")
	wantAPIError(t, a.call(key, http.MethodGet, apiURL("acme", "/devices/abc"), ""), http.StatusNotFound, "not_found")

	for _, step := range []struct {
		status string
		want   int
	}{{"inactive", 200}, {"deprovisioned", 200}, {"active", 409}, {"deprovisioned", 409}} {
		r := a.call(key, http.MethodPost, apiURL("acme", "/devices/"+id+"/status"), `{"status": "`+step.status+`"}`)
		if r.status != step.want {
			t.Fatalf("%s: %d\n%s", step.status, r.status, r.body)
		}
	}
	if !a.device("acme", "API-DEV-1").Deprovisioned() {
		t.Fatal("not deprovisioned")
	}
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/devices/"+id+"/status"), `{"status": ""}`), http.StatusUnprocessableEntity, "validation_failed")
}

func TestAPIMembers(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox, models.ScopeMembersRead)
	r := a.call(key, http.MethodGet, apiURL("acme", "/members?limit=100"), "")
	var list apiListBody[map[string]any]
	decode(t, r, &list)
	emails := map[string]string{}
	for _, m := range list.Data {
		emails[m["email"].(string)] = m["role"].(string)
		for _, field := range []string{"id", "user_id", "name", "email", "role", "joined_at"} {
			if _, ok := m[field]; !ok {
				t.Fatalf("member lacks %s: %v", field, m)
			}
		}
	}
	if emails["alice@acme.test"] != "super_admin" || emails["dave@acme.test"] != "viewer" || emails["carol@initech.test"] != "" {
		t.Fatalf("members %v", emails)
	}
	if strings.Contains(strings.ToLower(r.body), "password") || strings.Contains(r.body, "session") {
		t.Fatalf("members tell how they sign in: %s", excerpt(r.body))
	}
}

// TestAPIErrorsAreJSON: whatever goes wrong under /api/v1, the answer is
// JSON with a code, never a page.
func TestAPIErrorsAreJSON(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox)
	big := `{"applicant_name": "` + strings.Repeat("x", 3<<20) + `"}`
	for _, c := range []struct {
		name, method, url, body, key string
		status                       int
		code                         string
	}{
		{"unknown path", http.MethodGet, apiURL("acme", "/nothing"), "", key, 404, "not_found"},
		{"unknown path, no key", http.MethodGet, apiURL("acme", "/nothing/here"), "", "", 404, "not_found"},
		{"method", http.MethodDelete, apiURL("acme", "/orders"), "", key, 405, "method_not_allowed"},
		{"too large", http.MethodPost, apiURL("acme", "/orders"), big, key, 413, "request_too_large"},
		{"malformed JSON", http.MethodPost, apiURL("acme", "/orders"), `{"template_id": `, key, 400, "invalid_json"},
		{"two values", http.MethodPost, apiURL("acme", "/orders"), `{} {}`, key, 400, "invalid_json"},
		{"wrong type", http.MethodPost, apiURL("acme", "/orders"), `{"template_id": "one"}`, key, 400, "invalid_param"},
		{"unknown field", http.MethodPost, apiURL("acme", "/orders"), `{"price": 1}`, key, 400, "unknown_param"},
		{"base domain", http.MethodGet, base + "/api/v1/orders", "", key, 404, "not_found"},
		{"unknown company", http.MethodGet, apiURL("nobody", "/orders"), "", key, 404, "not_found"},
		{"no key", http.MethodGet, apiURL("acme", "/orders"), "", "", 401, "invalid_api_key"},
		{"malformed key", http.MethodGet, apiURL("acme", "/orders"), "", "cnp_test_123", 401, "invalid_api_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			r := a.call(c.key, c.method, c.url, c.body)
			wantAPIError(t, r, c.status, c.code)
			if strings.Contains(r.body, "<html") {
				t.Fatal("an HTML page under /api/v1")
			}
			if c.status == 405 && r.header.Get("Allow") != "GET, POST" {
				t.Fatalf("Allow %q", r.header.Get("Allow"))
			}
			if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	a.t = t
	// Another scheme, or the key in another header, is no key.
	for _, h := range [][]string{{"Authorization", "Basic " + key}, {"Authorization", key}, {"X-API-Key", key}} {
		wantAPIError(t, a.call("", http.MethodGet, apiURL("acme", "/orders"), "", h...), http.StatusUnauthorized, "invalid_api_key")
	}
	wantStatus(t, a.call("", http.MethodGet, apiURL("acme", "/orders"), "", "Authorization", "bearer "+key), http.StatusOK)
}

// TestAPIIgnoresTheSessionCookie: a signed-in browser, even its owner's,
// is no API key, and needs no CSRF token to be refused.
func TestAPIIgnoresTheSessionCookie(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	wantAPIError(t, b.get(apiURL("acme", "/orders")), http.StatusUnauthorized, "invalid_api_key")
	before := a.orderCount("acme")
	req, _ := http.NewRequest(http.MethodPost, apiURL("acme", "/orders"), strings.NewReader(
		fmt.Sprintf(`{"template_id": %d, "applicant_name": "Cookie"}`, a.templateID("acme", "Employment verification"))))
	req.Header.Set("Content-Type", "application/json")
	wantAPIError(t, b.do(req), http.StatusUnauthorized, "invalid_api_key")
	if a.orderCount("acme") != before {
		t.Fatal("a cookie created an order")
	}
}

func TestAPIIdempotency(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox)
	body := fmt.Sprintf(`{"template_id": %d, "applicant_name": "Ida Empotent"}`, a.templateID("acme", "Employment verification"))
	count := func() int64 {
		var n int64
		if err := a.db.Table("orders").Where("applicant_name = ?", "Ida Empotent").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := a.call(key, http.MethodPost, apiURL("acme", "/orders"), body, "Idempotency-Key", "order-1")
	wantStatus(t, first, http.StatusCreated)
	again := a.call(key, http.MethodPost, apiURL("acme", "/orders"), body, "Idempotency-Key", "order-1")
	if again.status != http.StatusCreated || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %q\n%s", again.status, again.header.Get("Idempotent-Replayed"), again.body)
	}
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the first answer says it was replayed")
	}
	if n := count(); n != 1 {
		t.Fatalf("%d orders for one key", n)
	}
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/orders"), strings.Replace(body, "Ida", "Ada", 1), "Idempotency-Key", "order-1"),
		http.StatusUnprocessableEntity, "idempotency_key_reused")
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/orders/1/cancel"), body, "Idempotency-Key", "order-1"),
		http.StatusUnprocessableEntity, "idempotency_key_reused")
	// A refusal is kept too: the same request gets the same answer.
	refused := a.call(key, http.MethodPost, apiURL("acme", "/orders"), `{"applicant_name": ""}`, "Idempotency-Key", "order-2")
	replayed := a.call(key, http.MethodPost, apiURL("acme", "/orders"), `{"applicant_name": ""}`, "Idempotency-Key", "order-2")
	if refused.status != 422 || replayed.status != 422 || replayed.body != refused.body || replayed.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("refusal replay: %d %d", refused.status, replayed.status)
	}
	// Another key's Idempotency-Keys are its own.
	other := a.apiKey(t, "acme", models.APISandbox)
	wantStatus(t, a.call(other, http.MethodPost, apiURL("acme", "/orders"), body, "Idempotency-Key", "order-1"), http.StatusCreated)
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/orders"), body, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "invalid_param")
	wantAPIError(t, a.call(key, http.MethodPost, apiURL("acme", "/orders"), body, "Idempotency-Key", "\xff\xfe"), http.StatusBadRequest, "invalid_param")

	// Simultaneous requests with one key: one order, the others replay it
	// or are told it is in use.
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = a.call(key, http.MethodPost, apiURL("acme", "/orders"), strings.Replace(body, "Ida", "Ida", 1), "Idempotency-Key", "race").status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Fatalf("simultaneous statuses %v", statuses)
		}
	}
	if n := count(); n != 3 || created == 0 { // order-1 of each key, and the race's one
		t.Fatalf("%d orders after the race, statuses %v", n, statuses)
	}
}

func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.handlers.SetAPIRateLimit(3, time.Minute)
	key := a.apiKey(t, "acme", models.APISandbox)
	other := a.apiKey(t, "acme", models.APISandbox)
	for i := range 3 {
		r := a.call(key, http.MethodGet, apiURL("acme", "/members"), "")
		wantStatus(t, r, http.StatusOK)
		if r.header.Get("RateLimit-Limit") != "3" || r.header.Get("RateLimit-Remaining") != strconv.Itoa(2-i) || r.header.Get("RateLimit-Reset") == "" {
			t.Fatalf("call %d headers %v", i, r.header)
		}
	}
	limited := a.call(key, http.MethodGet, apiURL("acme", "/members"), "")
	wantAPIError(t, limited, http.StatusTooManyRequests, "rate_limited")
	if ra, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-After %q", limited.header.Get("Retry-After"))
	}
	if limited.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("remaining %q", limited.header.Get("RateLimit-Remaining"))
	}
	wantStatus(t, a.call(other, http.MethodGet, apiURL("acme", "/members"), ""), http.StatusOK)
	a.clock.advance(30 * time.Second)
	wantStatus(t, a.call(key, http.MethodGet, apiURL("acme", "/members"), ""), http.StatusOK)
}

// TestAPIRateLimitSharedByInstances: behind a load balancer every instance
// counts against the same bucket, so N instances do not allow N times the
// limit.
func TestAPIRateLimitSharedByInstances(t *testing.T) {
	t.Parallel()
	first := newApp(t)
	second := first.anotherInstance()
	first.handlers.SetAPIRateLimit(4, time.Minute)
	second.handlers.SetAPIRateLimit(4, time.Minute)
	key := first.apiKey(t, "acme", models.APISandbox)
	for i, instance := range []*app{first, second, first, second} {
		r := instance.call(key, http.MethodGet, apiURL("acme", "/members"), "")
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("RateLimit-Remaining"); got != strconv.Itoa(3-i) {
			t.Fatalf("call %d: remaining %q", i, got)
		}
	}
	wantAPIError(t, first.call(key, http.MethodGet, apiURL("acme", "/members"), ""), http.StatusTooManyRequests, "rate_limited")
	wantAPIError(t, second.call(key, http.MethodGet, apiURL("acme", "/members"), ""), http.StatusTooManyRequests, "rate_limited")
}

// TestAPIKeysNeverLogged: no log line holds a key, whether it works or not.
func TestAPIKeysNeverLogged(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox)
	foreign := a.apiKey(t, "globex", models.APISandbox)
	a.call(key, http.MethodGet, apiURL("acme", "/orders"), "")
	a.call(key, http.MethodPost, apiURL("acme", "/orders"), `{"template_id": 0}`)
	a.call(foreign, http.MethodGet, apiURL("acme", "/orders"), "")
	a.call(key+"x", http.MethodGet, apiURL("acme", "/orders"), "")
	a.call(key, http.MethodGet, apiURL("acme", "/orders?limit=x"), "")
	logs := a.logs.String()
	if !strings.Contains(logs, "/api/v1/orders") {
		t.Fatal("the calls were not logged at all")
	}
	for _, k := range []string{key, foreign, key[9:], foreign[9:]} {
		if strings.Contains(logs, k) {
			t.Fatalf("a key is in the log:\n%s", logs)
		}
	}
}

// TestAPIKeyLastUsedAndInactiveCompany: a key's last use is recorded at most
// once a minute; an inactive company's keys stop working.
func TestAPIKeyLastUsedAndInactiveCompany(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	key, row := a.apiKeyRow(t, "acme-eu", models.APISandbox)
	wantStatus(t, a.call(key, http.MethodGet, apiURL("acme-eu", "/members"), ""), http.StatusOK)
	stored, err := a.store.APIKeyOf(context.Background(), row.TenantID, row.ID)
	if err != nil || stored.LastUsedAt == nil {
		t.Fatalf("last used %+v, %v", stored, err)
	}
	if err := a.store.SetTenantStatus(context.Background(), a.tenant("acme-eu").ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, a.call(key, http.MethodGet, apiURL("acme-eu", "/members"), ""), http.StatusForbidden, "company_inactive")
}

// TestAPICallRetriedCountsOnce: a call whose transaction PostgreSQL gave up
// (a deadlock) runs once more, and is still one call of the key's
// allowance.
func TestAPICallRetriedCountsOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	a.handlers.SetAPIRateLimit(5, time.Minute)
	key := a.apiKey(t, "acme-eu", models.APISandbox)
	deadlockCommitsOf(t, a, models.AuditDeviceAdded, 1)
	r := a.call(key, http.MethodPost, apiURL("acme-eu", "/devices"), `{"identifier": "RETRIED-1", "model": "Thermo Logger T-100"}`)
	wantStatus(t, r, http.StatusCreated)
	if got := r.header.Get("RateLimit-Remaining"); got != "4" {
		t.Fatalf("after one call, retried once: remaining %q, want 4", got)
	}
	if got := a.call(key, http.MethodGet, apiURL("acme-eu", "/members"), "").header.Get("RateLimit-Remaining"); got != "3" {
		t.Fatalf("the next call: remaining %q, want 3", got)
	}
}
