package models

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxWebhookURLLength bounds an endpoint's URL.
const MaxWebhookURLLength = 2000

// ValidateWebhookURL checks an endpoint's URL and returns it as it will be
// used, or the problem in words. It must be an absolute http(s) URL with a
// host and no credentials or fragment; a production endpoint needs https
// unless its host is one of httpHosts (the operator's
// CANOPY_WEBHOOK_HTTP_HOSTS). Which addresses the host may lead to is
// decided when a delivery dials it (internal/netguard), not here: DNS can
// change after this check.
func ValidateWebhookURL(raw string, env WebhookEnvironment, httpHosts []string) (string, string) {
	raw = strings.TrimSpace(raw)
	switch {
	case raw == "":
		return "", "Enter the URL deliveries are sent to."
	case len(raw) > MaxWebhookURLLength:
		return "", "Use at most 2000 characters."
	case !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }):
		return "", "Enter a URL without spaces or control characters."
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "", "Enter a full URL, such as https://example.com/webhooks."
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", "Use an https:// URL."
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "":
		return "", "Enter a full URL, such as https://example.com/webhooks."
	case u.User != nil:
		return "", "Leave user names and passwords out of the URL; verify deliveries by their signature instead."
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", "Leave out the part after #: it is never sent."
	case strings.HasSuffix(host, "."):
		return "", "Leave out the dot at the end of the host name."
	}
	if port := u.Port(); port != "" {
		if n, ok := parsePort(port); !ok || n == 0 {
			return "", "Use a port between 1 and 65535."
		}
	}
	if ip := net.ParseIP(host); ip == nil && !validHostName(host) {
		return "", "Enter a valid host name."
	}
	if scheme == "http" && env != WebhookSandbox && !slices.Contains(httpHosts, host) {
		return "", "Production endpoints need an https:// URL."
	}
	u.Scheme, u.Host = scheme, strings.ToLower(u.Host)
	return u.String(), ""
}

func parsePort(s string) (int, bool) {
	if len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, n <= 65535
}

// validHostName accepts DNS names of letters, digits, hyphens and
// underscores, in labels of 1 to 63 characters.
func validHostName(host string) bool {
	if len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
