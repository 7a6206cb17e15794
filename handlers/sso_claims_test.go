package handlers

import (
	"encoding/json"
	"testing"
)

func TestSSOClaimsEmailVerified(t *testing.T) {
	cases := []struct {
		claims string
		want   bool
	}{
		{`{"email_verified": true}`, true},
		{`{"email_verified": "true"}`, true},
		{`{"email_verified": false}`, false},
		{`{"email_verified": "yes"}`, false},
		{`{}`, false},
		// Entra ID: no email_verified, the domain owner's verification instead.
		{`{"xms_edov": true}`, true},
		{`{"xms_edov": "true"}`, true},
		{`{"xms_edov": false}`, false},
		// An explicit "not verified" is never overruled.
		{`{"email_verified": false, "xms_edov": true}`, false},
	}
	for _, c := range cases {
		var cl ssoClaims
		if err := json.Unmarshal([]byte(c.claims), &cl); err != nil {
			t.Fatal(err)
		}
		if got := cl.verified(); got != c.want {
			t.Errorf("%s: verified %v, want %v", c.claims, got, c.want)
		}
	}
}

func TestSSOClaimsNames(t *testing.T) {
	cases := []struct{ claims, first, last string }{
		{`{"given_name": "Nora", "family_name": "Novak", "name": "ignored"}`, "Nora", "Novak"},
		{`{"name": "Nora Novak"}`, "Nora", "Novak"},
		{`{"name": "Nora van der Berg"}`, "Nora", "van der Berg"},
		{`{"name": "  Nora  "}`, "Nora", ""},
		{`{}`, "", ""},
	}
	for _, c := range cases {
		var cl ssoClaims
		if err := json.Unmarshal([]byte(c.claims), &cl); err != nil {
			t.Fatal(err)
		}
		if first, last := cl.names(); first != c.first || last != c.last {
			t.Errorf("%s: %q %q, want %q %q", c.claims, first, last, c.first, c.last)
		}
	}
}
