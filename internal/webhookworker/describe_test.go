package webhookworker

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// A delivery's error names its URL without the query, where a company may
// have put a token.
func TestDescribeLeavesTheQueryOut(t *testing.T) {
	err := &url.Error{Op: "Post", URL: "https://hooks.example/in?token=s3cret#x", Err: errors.New("tls: handshake failure")}
	got := describe(err, time.Second)
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "https://hooks.example/in") {
		t.Fatalf("describe = %q", got)
	}
}
