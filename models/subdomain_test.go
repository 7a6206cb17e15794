package models_test

import (
	"strings"
	"testing"

	"canopy/models"
)

func TestValidateSubdomain(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" valid, else a fragment of the message
	}{
		{"acme", ""},
		{"acme-eu", ""},
		{"a1b", ""},
		{"123", ""},
		{strings.Repeat("a", 63), ""},
		{"", "Enter"},
		{"ab", "at least 3"},
		{strings.Repeat("a", 64), "at most 63"},
		{"Acme", "lowercase"},
		{"ac_me", "lowercase"},
		{"ac.me", "lowercase"},
		{"acmé", "lowercase"},
		{"-acme", "hyphen"},
		{"acme-", "hyphen"},
		{"xn--80ak6aa92e", "Internationalized"},
		{"www", "reserved"},
		{"admin", "reserved"},
		{"api", "reserved"},
		{"login", "reserved"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got := models.ValidateSubdomain(c.in)
			if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("ValidateSubdomain(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestNormalizeSubdomain(t *testing.T) {
	if got := models.NormalizeSubdomain("  ACME-eu "); got != "acme-eu" {
		t.Fatalf("got %q", got)
	}
}

// FuzzValidateSubdomain checks that whatever is accepted is a DNS label.
func FuzzValidateSubdomain(f *testing.F) {
	for _, s := range []string{"acme", "a-b", "-x-", "ÄÖÜ", "xn--a", "www", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if models.ValidateSubdomain(s) != "" {
			return
		}
		if len(s) < 3 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func TestValidateEmail(t *testing.T) {
	for _, ok := range []string{"alice@acme.test", "a.b+c@example.co.uk"} {
		if msg := models.ValidateEmail(ok); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"", "alice", "alice@", "@acme.test", "Alice <alice@acme.test>", "alice@localhost", strings.Repeat("a", 250) + "@x.io"} {
		if models.ValidateEmail(bad) == "" {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzValidateEmail(f *testing.F) {
	f.Add("alice@acme.test")
	f.Add("<a@b.c>")
	f.Fuzz(func(t *testing.T, s string) {
		if models.ValidateEmail(s) == "" && (!strings.Contains(s, "@") || strings.ContainsAny(s, "<> \r\n")) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestTimezonesAllLoad(t *testing.T) {
	for _, tz := range models.Timezones {
		if msg := models.ValidateTimezone(tz); msg != "" {
			t.Errorf("%s: %s", tz, msg)
		}
	}
}
