package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"canopy/internal/apikey"
	"canopy/models"
)

// apiKey makes a working API key of the company for env with the scopes
// (every scope when none is given), hashed as the server hashes keys, and
// returns the key itself. A production key needs approved production
// access, which it grants first.
func (a *app) apiKey(t *testing.T, sub string, env models.APIEnvironment, scopes ...models.APIScope) string {
	t.Helper()
	key, _ := a.apiKeyRow(t, sub, env, scopes...)
	return key
}

// apiKeyRow is apiKey with the stored key, for tests that revoke or roll it.
func (a *app) apiKeyRow(t *testing.T, sub string, env models.APIEnvironment, scopes ...models.APIScope) (string, *models.APIKey) {
	t.Helper()
	if len(scopes) == 0 {
		scopes = models.APIScopes
	}
	tenant := a.tenant(sub)
	if env == models.APIProduction {
		a.grantProductionAccess(t, tenant.ID)
	}
	k, err := apikey.New(env == models.APIProduction)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := a.store.CreateAPIKey(context.Background(), tenant.ID,
		models.NewAPIKey{Name: "Test key " + string(env), Environment: env, Scopes: scopes},
		models.HashedAPIKey{Hash: apikey.NewHasher(a.secrets.APIKeyHash).Hash(k), Prefix: k.Prefix(), Last4: k.Last4()})
	if err != nil {
		t.Fatal(err)
	}
	return k.Secret, stored
}

// grantProductionAccess records an approved request for production access
// of the tenant, as platform staff's approval would.
func (a *app) grantProductionAccess(t *testing.T, tenantID int64) {
	t.Helper()
	err := a.db.Exec(`INSERT INTO production_access_requests (tenant_id, intended_use, monthly_volume, status, decided_at, created_at)
		VALUES (?, 'Tests', 100, 'approved', ?, ?)`, tenantID, time.Now().UTC(), time.Now().UTC()).Error
	if err != nil {
		t.Fatal(err)
	}
}

// call makes one request of the JSON API with key ("" for none) and a JSON
// body ("" for none); header gives further headers, name then value.
func (a *app) call(key, method, rawURL, body string, header ...string) response {
	a.t.Helper()
	var req *http.Request
	if body != "" {
		req, _ = http.NewRequest(method, rawURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(method, rawURL, nil)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return a.browser().do(req)
}

// apiURL is a path of the JSON API on a company's host.
func apiURL(sub, path string) string { return tenantURL(sub, "/api/v1"+path) }

// decode reads a JSON answer into v, failing the test on anything else.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want JSON\n%s", r.url, ct, excerpt(r.body))
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("%s: %v\n%s", r.url, err, excerpt(r.body))
	}
}

// apiErr is the API's error body.
type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
		Errors  []struct {
			Param   string `json:"param"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"error"`
}

// wantAPIError checks an error answer's status and code.
func wantAPIError(t *testing.T, r response, status int, code string) apiErr {
	t.Helper()
	var e apiErr
	decode(t, r, &e)
	if r.status != status || e.Error.Code != code {
		t.Fatalf("%s: %d %q, want %d %q\n%s", r.url, r.status, e.Error.Code, status, code, excerpt(r.body))
	}
	if e.Error.Message == "" {
		t.Fatalf("%s: an error without a message", r.url)
	}
	return e
}

// apiOrderBody is an order as the API answers it.
type apiOrderBody struct {
	ID                int64   `json:"id"`
	Object            string  `json:"object"`
	TemplateID        int64   `json:"template_id"`
	ApplicantName     string  `json:"applicant_name"`
	ApplicantEmail    *string `json:"applicant_email"`
	Reference         *string `json:"reference"`
	Status            string  `json:"status"`
	Environment       string  `json:"environment"`
	CreatedByAPIKeyID *int64  `json:"created_by_api_key_id"`
	CreatedAt         string  `json:"created_at"`
	History           []struct {
		FromStatus *string `json:"from_status"`
		ToStatus   string  `json:"to_status"`
		Actor      string  `json:"actor"`
		APIKeyID   *int64  `json:"api_key_id"`
	} `json:"history"`
}

// apiListBody is a page of a list.
type apiListBody[T any] struct {
	Object     string  `json:"object"`
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}
