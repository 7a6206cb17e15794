package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"canopy/internal/apikey"
	"canopy/models"
)

// apiAttackRoute is an API route's row: a sample request with {order}
// (a live order of acme) and {device} (a device of acme), the scope it
// needs, and what a working production key of acme with every scope gets.
type apiAttackRoute struct {
	path, body string
	scope      models.APIScope
	ok         int
	orders     bool // reads or changes orders, which keys see by environment
}

var apiAttackRoutes = map[string]apiAttackRoute{
	"GET /api/v1/orders":               {path: "/orders", scope: models.ScopeOrdersRead, ok: 200, orders: true},
	"POST /api/v1/orders":              {path: "/orders", body: `{"template_id": {template}, "applicant_name": "Attack"}`, scope: models.ScopeOrdersWrite, ok: 201, orders: true},
	"GET /api/v1/orders/:id":           {path: "/orders/{order}", scope: models.ScopeOrdersRead, ok: 200, orders: true},
	"POST /api/v1/orders/:id/cancel":   {path: "/orders/{order}/cancel", scope: models.ScopeOrdersWrite, ok: 200, orders: true},
	"POST /api/v1/orders/:id/simulate": {path: "/orders/{order}/simulate", body: `{"status": "completed"}`, scope: models.ScopeOrdersWrite, ok: 403, orders: true}, // sandbox only
	"GET /api/v1/devices":              {path: "/devices", scope: models.ScopeDevicesRead, ok: 200},
	"POST /api/v1/devices":             {path: "/devices", body: `{"identifier": "ATK-API-1", "model": "Evil"}`, scope: models.ScopeDevicesWrite, ok: 201},
	"GET /api/v1/devices/:id":          {path: "/devices/{device}", scope: models.ScopeDevicesRead, ok: 200},
	"POST /api/v1/devices/:id/status":  {path: "/devices/{device}/status", body: `{"status": "inactive"}`, scope: models.ScopeDevicesWrite, ok: 200},
	"GET /api/v1/members":              {path: "/members", scope: models.ScopeMembersRead, ok: 200},
}

// TestAPIAttackMatrix: every route of the JSON API × every way a key can be
// wrong → the same refusal, nothing changed and nothing of another company
// or environment shown; then the right key works.
func TestAPIAttackMatrix(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	live := a.apiKey(t, "acme", models.APIProduction)
	sandbox := a.apiKey(t, "acme", models.APISandbox)
	revoked, revokedRow := a.apiKeyRow(t, "acme", models.APISandbox)
	if _, err := a.store.RevokeAPIKey(ctx, acme.ID, revokedRow.ID); err != nil {
		t.Fatal(err)
	}
	rolled, rolledRow := a.apiKeyRow(t, "acme", models.APIProduction)
	next, err := apikey.New(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.store.RollAPIKey(ctx, acme.ID, rolledRow.ID, 0, models.HashedAPIKey{
		Hash: apikey.NewHasher(a.secrets.APIKeyHash).Hash(next), Prefix: next.Prefix(), Last4: next.Last4()}); err != nil {
		t.Fatal(err)
	}
	globex := a.apiKey(t, "globex", models.APIProduction)
	child := a.apiKey(t, "acme-eu", models.APIProduction)
	lacking := map[models.APIScope]string{}
	for _, scope := range models.APIScopes {
		lacking[scope] = a.apiKey(t, "acme", models.APIProduction, slices.DeleteFunc(slices.Clone(models.APIScopes), func(s models.APIScope) bool { return s == scope })...)
	}
	// A key made with another server's secret hashes to nothing stored.
	forged, err := apikey.New(true)
	if err != nil {
		t.Fatal(err)
	}

	liveOrder := a.liveOrderID(t, "acme")
	device := a.addDevice("acme", "ACME-API-ATTACK", "Thermo Logger T-100")
	fill := func(s string) string {
		s = strings.ReplaceAll(s, "{order}", strconv.FormatInt(liveOrder, 10))
		s = strings.ReplaceAll(s, "{device}", strconv.FormatInt(device.ID, 10))
		return strings.ReplaceAll(s, "{template}", strconv.FormatInt(a.templateID("acme", "Employment verification"), 10))
	}
	refusals := []struct {
		name, key, host string
		status          int
		code            string
	}{
		{"no key", "", "acme", 401, "invalid_api_key"},
		{"malformed key", "cnp_live_" + strings.Repeat("A", 38), "acme", 401, "invalid_api_key"},
		{"forged key", forged.Secret, "acme", 401, "invalid_api_key"},
		{"revoked key", revoked, "acme", 401, "invalid_api_key"},
		{"expired rolled key", rolled, "acme", 401, "invalid_api_key"},
		{"other company's key", globex, "acme", 401, "invalid_api_key"},
		{"parent's key on a child", live, "acme-eu", 401, "invalid_api_key"},
		{"child's key on its parent", child, "acme", 401, "invalid_api_key"},
	}
	keys := matrixAPIRoutes(t, a)
	for _, key := range keys {
		row := apiAttackRoutes[key]
		method, _, _ := strings.Cut(key, " ")
		for _, r := range refusals {
			t.Run(key+"/"+r.name, func(t *testing.T) {
				a.t = t
				before := a.apiSnapshot()
				res := a.call(r.key, method, apiURL(r.host, fill(row.path)), fill(row.body))
				wantAPIError(t, res, r.status, r.code)
				if a.apiSnapshot() != before {
					t.Fatal("a refused call changed records")
				}
			})
		}
		t.Run(key+"/lacking its scope", func(t *testing.T) {
			a.t = t
			before := a.apiSnapshot()
			wantAPIError(t, a.call(lacking[row.scope], method, apiURL("acme", fill(row.path)), fill(row.body)), http.StatusForbidden, "insufficient_scope")
			if a.apiSnapshot() != before {
				t.Fatal("a refused call changed records")
			}
		})
		// A sandbox key never reaches live orders: not found, or not listed.
		t.Run(key+"/sandbox key on live data", func(t *testing.T) {
			a.t = t
			if !row.orders || method == http.MethodPost && !strings.Contains(row.path, "{order}") {
				return // devices and members are the same in both environments; a new order is a test order (TestAPIOrders)
			}
			before := a.apiSnapshot()
			res := a.call(sandbox, method, apiURL("acme", fill(row.path)), fill(row.body))
			if row.path == "/orders" {
				var list apiListBody[apiOrderBody]
				decode(t, res, &list)
				for _, o := range list.Data {
					if o.Environment != "test" {
						t.Fatalf("a sandbox key lists %+v", o)
					}
				}
				return
			}
			wantAPIError(t, res, http.StatusNotFound, "not_found")
			if a.apiSnapshot() != before {
				t.Fatal("a refused call changed records")
			}
		})
		t.Run(key+"/the company's own key", func(t *testing.T) {
			a.t = t
			res := a.call(live, method, apiURL("acme", fill(row.path)), fill(row.body))
			if res.status != row.ok {
				t.Fatalf("status %d, want %d\n%s", res.status, row.ok, excerpt(res.body))
			}
			for _, marker := range []string{"Globex", "Initech", "Acme Europe", "EU-TL100-0001", "bob@globex.test\",\"role\":\"super_admin"} {
				if strings.Contains(res.body, marker) {
					t.Fatalf("shows %q of another company", marker)
				}
			}
		})
	}
	a.t = t
}

// matrixAPIRoutes are the API's routes in Echo's own list, each of which
// needs a row; the public description apart.
func matrixAPIRoutes(t *testing.T, a *app) []string {
	var keys []string
	for _, r := range a.handlers.Router().Routes() {
		key := r.Method + " " + r.Path
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "echo_route_not_found" || key == "GET /api/v1/openapi.json" {
			continue
		}
		if _, ok := apiAttackRoutes[key]; !ok {
			t.Errorf("API route %s has no row in apiAttackRoutes", key)
			continue
		}
		if rule := a.handlers.AccessRules()[key]; rule.APIScope() != string(apiAttackRoutes[key].scope) {
			t.Errorf("API route %s needs %q, its row says %q", key, rule.APIScope(), apiAttackRoutes[key].scope)
		}
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}

// liveOrderID is the newest pending live order of the company.
func (a *app) liveOrderID(t *testing.T, sub string) int64 {
	t.Helper()
	var id int64
	err := a.db.Table("orders").Where("tenant_id = ? AND environment = 'live' AND status = 'pending'", a.tenant(sub).ID).
		Order("id DESC").Limit(1).Pluck("id", &id).Error
	if err != nil || id == 0 {
		t.Fatalf("no pending live order: %v", err)
	}
	return id
}

// apiSnapshot sums up what an API call could change.
func (a *app) apiSnapshot() string {
	a.t.Helper()
	var rows []map[string]any
	err := a.db.Raw(`SELECT
		(SELECT count(*) FROM orders) AS orders,
		(SELECT count(*) FROM orders WHERE status = 'cancelled') AS cancelled,
		(SELECT count(*) FROM order_events) AS events,
		(SELECT count(*) FROM devices) AS devices,
		(SELECT count(*) FROM devices WHERE status <> 'active') AS inactive,
		(SELECT count(*) FROM audit_events) AS audit,
		(SELECT count(*) FROM api_idempotency_keys) AS idempotency,
		(SELECT count(*) FROM outbox_emails) AS outbox`).Scan(&rows).Error
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := json.Marshal(rows)
	return fmt.Sprint(string(b))
}
