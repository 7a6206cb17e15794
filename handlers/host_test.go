package handlers

import (
	"strings"
	"testing"
)

func TestSplitHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host, sub   string
		apex, valid bool
	}{
		{"localhost:8080", "", true, true},
		{"acme.localhost:8080", "acme", false, true},
		{"acme-eu.localhost:8080", "acme-eu", false, true},
		{"a.b.localhost:8080", "", false, false},
		{".localhost:8080", "", false, false},
		{"localhost:9090", "", false, false},
		{"acme.localhost", "", false, false},
		{"evil.example", "", false, false},
		{"acmelocalhost:8080", "", false, false},
		{strings.Repeat("a", 64) + ".localhost:8080", "", false, false},
	}
	for _, c := range cases {
		sub, apex, ok := splitHost(c.host, "localhost:8080")
		if sub != c.sub || apex != c.apex || ok != c.valid {
			t.Errorf("splitHost(%q) = %q, %v, %v; want %q, %v, %v", c.host, sub, apex, ok, c.sub, c.apex, c.valid)
		}
	}
}

func FuzzSplitHost(f *testing.F) {
	for _, s := range []string{"localhost:8080", "acme.localhost:8080", "a.b.localhost:8080", "", ".", "x.localhost:8080.evil"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		sub, apex, ok := splitHost(host, "localhost:8080")
		if !ok {
			return
		}
		if apex && host != "localhost:8080" {
			t.Fatalf("%q taken for the base domain", host)
		}
		if !apex && (sub == "" || strings.Contains(sub, ".") || sub+".localhost:8080" != host) {
			t.Fatalf("%q gave subdomain %q", host, sub)
		}
	})
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                      "",
		"/":                     "/",
		"/devices?q=x":          "/devices?q=x",
		"//evil.example":        "",
		"///evil.example":       "",
		"/\\evil.example":       "",
		"https://evil.example/": "",
		"javascript:alert(1)":   "",
		"devices":               "",
		"/ok\r\nSet-Cookie: x":  "",
	}
	for in, want := range cases {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeNext: whatever survives is a path on this host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/a?b=c", "/\\x", "http://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got == "" {
			return
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\r\n") {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
	})
}
