package handlers_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"canopy/models"
)

// getWithID is a GET carrying an X-Request-Id of the client's (none when
// id is empty).
func (b *browser) getWithID(rawURL, id string) response {
	b.app.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	return b.do(req)
}

var madeRequestID = regexp.MustCompile(`^[0-9a-f]{12}-[0-9a-z]+$`)

// logLinesWith are the log lines that carry the request id.
func logLinesWith(a *app, id string) []string {
	var lines []string
	for _, line := range strings.Split(a.logs.String(), "\n") {
		if strings.Contains(line, "request_id="+id) {
			lines = append(lines, line)
		}
	}
	return lines
}

// TestRequestIDOnEveryAnswer: every answer carries its request's id, made
// here or taken from a load balancer when it is short and plain; the
// request's log line carries it, and so does every error page, as the
// reference a person can quote.
func TestRequestIDOnEveryAnswer(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()

	ok := b.get(base + "/login")
	wantStatus(t, ok, http.StatusOK)
	id := ok.header.Get("X-Request-Id")
	if !madeRequestID.MatchString(id) {
		t.Fatalf("made request id %q", id)
	}
	if next := b.get(base + "/login").header.Get("X-Request-Id"); next == id || !madeRequestID.MatchString(next) {
		t.Fatalf("the next request's id %q after %q", next, id)
	}
	if lines := logLinesWith(a, id); len(lines) != 1 || !strings.Contains(lines[0], "msg=request") || !strings.Contains(lines[0], "path=/login") {
		t.Fatalf("log lines with %s: %q", id, lines)
	}

	for _, c := range []struct{ sent, want string }{
		{"lb-7f3a.2_B", "lb-7f3a.2_B"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{strings.Repeat("a", 65), ""},
		{"two words", ""},
		{`<script>alert(1)</script>`, ""},
		{"x\" forged=1", ""},
	} {
		got := b.getWithID(base+"/login", c.sent).header.Get("X-Request-Id")
		if c.want != "" && got != c.want {
			t.Errorf("sent %q: id %q, want it kept", c.sent, got)
		}
		if c.want == "" && !madeRequestID.MatchString(got) {
			t.Errorf("sent %q: id %q, want a new one", c.sent, got)
		}
	}

	missing := b.getWithID(tenantURL("acme", "/no-such-page"), "from-the-lb-404")
	wantStatus(t, missing, http.StatusNotFound)
	wantBody(t, missing, "Reference: <code>from-the-lb-404</code>")
	if lines := logLinesWith(a, "from-the-lb-404"); len(lines) != 1 || !strings.Contains(lines[0], "status=404") {
		t.Fatalf("log lines of the 404: %q", lines)
	}

	unauthorized := a.call("", http.MethodGet, apiURL("acme", "/members"), "")
	if !madeRequestID.MatchString(unauthorized.header.Get("X-Request-Id")) {
		t.Fatalf("API answer without a request id: %v", unauthorized.header)
	}

	b.signIn("alice@acme.test", "acme")
	if err := models.Close(a.serverDB); err != nil {
		t.Fatal(err)
	}
	failed := b.getWithID(tenantURL("acme", "/"), "from-the-lb-500")
	wantStatus(t, failed, http.StatusInternalServerError)
	wantBody(t, failed, "Reference: <code>from-the-lb-500</code>")
	lines := logLinesWith(a, "from-the-lb-500")
	if len(lines) != 2 || !strings.Contains(lines[0], `msg="request failed"`) || !strings.Contains(lines[1], "status=500") {
		t.Fatalf("log lines of the 500: %q", lines)
	}
}
