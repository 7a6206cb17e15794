package models

import (
	"strings"
	"testing"
	"unicode"
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
	})
}
