package webhook

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	// The specification's own reference implementation for Go, imported by
	// this test only: Canopy's signatures must verify with it.
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The specification's published test vector (the reference libraries'
// TestWebhookSign).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignReproducesThePublishedVector(t *testing.T) {
	got, err := Sign(vectorSecret, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Fatalf("signature %s, want %s", got, vectorSignature)
	}
}

// A real request over loopback, signed by Headers and verified by the
// reference library as a receiver would run it.
func TestReferenceLibraryVerifiesOurRequests(t *testing.T) {
	secret := NewSecret()
	verified := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		verified <- err
	}))
	defer srv.Close()

	body := []byte(`{"type":"order.created","timestamp":"2026-01-02T03:04:05Z","data":{"id":1}}`)
	h, err := Headers([]string{secret}, "msg_abc", time.Now(), body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(body)))
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if err := <-verified; err != nil {
		t.Fatalf("the reference library refused the request: %v", err)
	}
}

// While a secret rotates both sign: a receiver holding either verifies.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	newSecret, oldSecret := NewSecret(), NewSecret()
	body := []byte(`{"a":1}`)
	now := time.Now()
	h, err := Headers([]string{newSecret, oldSecret}, "msg_rot", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures, want 2: %q", n, h.Get(HeaderSignature))
	}
	for _, secret := range []string{newSecret, oldSecret} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("reference library: %v", err)
		}
		if err := Verify(secret, h, body, now); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if err := Verify(NewSecret(), h, body, now); !errors.Is(err, ErrNoSignature) {
		t.Errorf("a third secret: %v, want ErrNoSignature", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	secret := NewSecret()
	body := []byte(`{"a":1}`)
	now := time.Unix(1_700_000_000, 0)
	good, _ := Headers([]string{secret}, "msg_1", now, body)
	cases := []struct {
		name string
		edit func(h http.Header) ([]byte, time.Time)
		want error
	}{
		{"a changed body", func(http.Header) ([]byte, time.Time) { return []byte(`{"a":2}`), now }, ErrNoSignature},
		{"another id", func(h http.Header) ([]byte, time.Time) { h.Set(HeaderID, "msg_2"); return body, now }, ErrNoSignature},
		{"too old", func(http.Header) ([]byte, time.Time) { return body, now.Add(6 * time.Minute) }, ErrBadTimestamp},
		{"from the future", func(http.Header) ([]byte, time.Time) { return body, now.Add(-6 * time.Minute) }, ErrBadTimestamp},
		{"no signature", func(h http.Header) ([]byte, time.Time) { h.Del(HeaderSignature); return body, now }, ErrMissingHeaders},
		{"another version", func(h http.Header) ([]byte, time.Time) {
			h.Set(HeaderSignature, strings.Replace(h.Get(HeaderSignature), "v1,", "v2,", 1))
			return body, now
		}, ErrNoSignature},
	}
	for _, c := range cases {
		h := good.Clone()
		b, at := c.edit(h)
		if err := Verify(secret, h, b, at); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if err := Verify(secret, good, body, now); err != nil {
		t.Errorf("the untouched request: %v", err)
	}
}

func TestNewSecretFormat(t *testing.T) {
	s := NewSecret()
	if !strings.HasPrefix(s, SecretPrefix) {
		t.Fatalf("%q lacks the prefix", s)
	}
	key, err := ParseSecret(s)
	if err != nil || len(key) != 32 {
		t.Fatalf("ParseSecret(%q) = %d bytes, %v", s, len(key), err)
	}
	if _, err := ParseSecret("whsec_c2hvcnQ="); !errors.Is(err, ErrBadSecret) {
		t.Errorf("a short key: %v", err)
	}
}
