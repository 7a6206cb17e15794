package models

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestCleanLine(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"  Acme   Europe ", "Acme Europe", true},
		{"Tab\tName\r\nNewline", "Tab Name Newline", true},
		{"a\x00b", "", false},
		{"esc\x1b[31m", "", false},
		{"Zoë Ångström", "Zoë Ångström", true},
		{"bad \xff byte", "", false}, // Postgres refuses invalid UTF-8
	}
	for _, c := range cases {
		got, ok := cleanLine(c.in)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("cleanLine(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if got, ok := cleanText(" line one\r\nline two\x00"); ok {
		t.Errorf("cleanText accepted NUL: %q", got)
	}
	if got, ok := cleanText(" line one\r\nline two "); !ok || got != "line one\nline two" {
		t.Errorf("cleanText = %q, %v", got, ok)
	}
}

func FuzzCleanLine(f *testing.F) {
	for _, s := range []string{"Acme", " a \t b ", "a\x00", "\u2028x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := cleanLine(s)
		if !ok {
			return
		}
		if got != strings.TrimSpace(got) || strings.Contains(got, "  ") {
			t.Fatalf("cleanLine(%q) = %q is not trimmed and collapsed", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("cleanLine(%q) kept control %q", s, r)
			}
		}
		if !utf8.ValidString(got) {
			t.Fatalf("cleanLine(%q) = %q is not UTF-8", s, got)
		}
	})
}

func TestSearchable(t *testing.T) {
	cases := []struct{ in, want string }{
		{"  device  42 ", "device 42"},
		{"a\x00b", "a b"},
		{"\xffacme", "acme"},
		{"tab\tsplit", "tab split"},
		{"Zoë", "Zoë"},
	}
	for _, c := range cases {
		if got := searchable(c.in); got != c.want {
			t.Errorf("searchable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzSearchable(f *testing.F) {
	for _, s := range []string{"acme", "a\x00b", "\xff", " x "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := searchable(s)
		if !utf8.ValidString(got) || strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("searchable(%q) = %q holds what a query cannot", s, got)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("searchable(%q) = %q is not trimmed", s, got)
		}
	})
}
