package handlers_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"canopy/handlers"
)

// TestOpenAPIDocumentMatchesRoutes: every route of the JSON API is in the
// OpenAPI document with the scope it needs, and every operation there is a
// route.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(handlers.OpenAPIDocument, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	described := map[string]string{} // "GET /orders/:id" → its scope
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Scope string `json:"x-canopy-scope"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			described[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = op.Scope
		}
	}
	h := newHandlersForRoutes(t)
	routed := map[string]bool{}
	for _, r := range h.Router().Routes() {
		rest, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || r.Method == "echo_route_not_found" {
			continue
		}
		key := r.Method + " " + rest
		routed[key] = true
		scope, ok := described[key]
		switch {
		case !ok:
			t.Errorf("route %s %s is not in the OpenAPI document", r.Method, r.Path)
		case scope != h.AccessRules()[r.Method+" "+r.Path].APIScope():
			t.Errorf("route %s %s needs %q, the document says %q", r.Method, r.Path, h.AccessRules()[r.Method+" "+r.Path].APIScope(), scope)
		}
	}
	for key := range described {
		if !routed[key] {
			t.Errorf("the OpenAPI document describes %s, which is no route", key)
		}
	}
}

func TestOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.call("", http.MethodGet, apiURL("acme", "/openapi.json"), "")
	wantStatus(t, r, http.StatusOK)
	if r.body != string(handlers.OpenAPIDocument) || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("served %q", excerpt(r.body))
	}
}
