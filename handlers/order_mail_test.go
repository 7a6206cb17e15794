package handlers

import (
	"regexp"
	"testing"
)

// TestInertText: what mail programs are known to turn into links — a
// scheme, a bare host name, an email address, an IP address, with look-alike
// dots and colons — comes out of inertText with no host or scheme left
// whole; ordinary text with dots stays as it was.
func TestInertText(t *testing.T) {
	linked := []string{
		"https://evil.example/login", "http：//evil.example", "https:/\\/x.example", "www.evil.example",
		"paypal-secure.com", "evil.example/login", "EVIL.EXAMPLE", "user@evil.example", "10.0.0.1",
		"xn--pypal-4ve.com", "evil．example", "evil。example", "sub.domain.co.uk", "Jane Roe (jane.roe@mail.example)",
	}
	// Independent of the code: a dot between a letter or digit and a letter,
	// or a "://", is what a linker needs.
	stillLinkable := regexp.MustCompile(`[\p{L}\p{N}][.．。｡][\p{L}]|[\p{N}][.．。｡][\p{N}]+[.．。｡][\p{N}]|[:：]//`)
	for _, s := range linked {
		if got := inertText(s); stillLinkable.MatchString(got) {
			t.Errorf("inertText(%q) = %q: still a link", s, got)
		}
	}
	for _, s := range []string{"J.R.R. Tolkien", "Dr. Smith", "version 1.5", "Acme Corp", "LN-9", "Jane O'Neil"} {
		if got := inertText(s); got != s {
			t.Errorf("inertText(%q) = %q, want it unchanged", s, got)
		}
	}
}
