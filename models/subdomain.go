package models

import (
	"strings"
)

// reservedSubdomains cannot be given to a tenant: they name parts of the
// product itself or would confuse people and mail filters. "admin" belongs to
// the platform tenant, which is created by setup, never through a form.
var reservedSubdomains = map[string]bool{
	"www": true, "app": true, "api": true, "admin": true, "static": true, "assets": true,
	"cdn": true, "mail": true, "email": true, "smtp": true, "imap": true, "pop": true,
	"login": true, "logout": true, "signin": true, "signup": true, "auth": true, "oauth": true,
	"sso": true, "account": true, "accounts": true, "billing": true, "status": true,
	"help": true, "support": true, "docs": true, "blog": true, "dashboard": true,
	"internal": true, "root": true, "system": true, "canopy": true, "localhost": true,
	"test": true, "dev": true, "staging": true, "ftp": true, "ns1": true, "ns2": true,
	"webhooks": true, "healthz": true,
}

// NormalizeSubdomain lowercases and trims what a person typed.
func NormalizeSubdomain(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidateSubdomain returns a message fit to show beside the field, or "" when
// s (already normalized) is a usable subdomain: a DNS label of 3–63 characters
// of a–z, 0–9 and hyphens, not starting or ending with a hyphen, not reserved.
func ValidateSubdomain(s string) string {
	switch {
	case s == "":
		return "Enter a subdomain."
	case len(s) < 3:
		return "Use at least 3 characters."
	case len(s) > 63:
		return "Use at most 63 characters."
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return "Use only lowercase letters a–z, digits and hyphens."
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return "A subdomain cannot start or end with a hyphen."
	}
	if strings.HasPrefix(s, "xn--") {
		return "Internationalized (xn--) subdomains are not supported."
	}
	if reservedSubdomains[s] {
		return "This subdomain is reserved. Choose another."
	}
	return ""
}
