package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestReceiverPrintsVerifiedEventsAndRefusesOthers(t *testing.T) {
	var out bytes.Buffer
	rc, err := NewReceiver(DevSecret, &out)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	body := []byte(`{"type":"order.created","timestamp":"2026-01-15T09:30:00Z","data":{"id":1}}`)
	send := func(secret string) int {
		h, err := Headers([]string{secret}, "msg_test", time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL+DevReceiverPath, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(DevSecret); code != http.StatusNoContent {
		t.Errorf("a verified event: %d", code)
	}
	if code := send(NewSecret()); code != http.StatusUnauthorized {
		t.Errorf("another secret's signature: %d", code)
	}
	printed := out.String()
	if !strings.Contains(printed, "verified msg_test order.created") || !strings.Contains(printed, `"id": 1`) || !strings.Contains(printed, "REFUSED msg_test") {
		t.Errorf("printed:\n%s", printed)
	}
	if _, err := ParseSecret(DevSecret); err != nil {
		t.Errorf("the demo secret: %v", err)
	}
}
