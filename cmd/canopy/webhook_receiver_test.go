package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"canopy/internal/testkit"
	"canopy/internal/webhook"
)

func TestReceiverFlags(t *testing.T) {
	t.Setenv("CANOPY_WEBHOOK_SECRET", "")
	addr, secret, err := parseReceiverFlags(nil, io.Discard)
	if err != nil || addr != webhook.DevReceiverAddr || secret != webhook.DevSecret {
		t.Fatalf("defaults %q %q %v", addr, secret, err)
	}
	own := webhook.NewSecret()
	t.Setenv("CANOPY_WEBHOOK_SECRET", own)
	if _, secret, _ := parseReceiverFlags(nil, io.Discard); secret != own {
		t.Errorf("from the environment: %q", secret)
	}
	for _, args := range [][]string{{"--addr", "0.0.0.0:9997"}, {"--secret", "whsec_short"}, {"extra"}} {
		if _, _, err := parseReceiverFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	// It runs beside Canopy: Canopy's own settings, even broken, do not stop it.
	t.Setenv("CANOPY_BASE_URL", "ftp://nope")
	if err := run([]string{"webhook-receiver", "--addr", "0.0.0.0:0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("err = %v, want the receiver's own refusal", err)
	}
}

// The receiver prints a verified event, refuses a forged one, and stops when asked.
func TestReceiverServesUntilCancelled(t *testing.T) {
	out := &testkit.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runReceiver(ctx, "127.0.0.1:0", webhook.DevSecret, out, ready) }()
	addr := <-ready
	body := []byte(`{"type":"device.created","timestamp":"2026-01-15T09:30:00Z","data":{"id":3}}`)
	for _, secret := range []string{webhook.DevSecret, webhook.NewSecret()} {
		h, _ := webhook.Headers([]string{secret}, "msg_cli", time.Now(), body)
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+webhook.DevReceiverPath, bytes.NewReader(body))
		req.Header = h
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	for _, want := range []string{"endpoint URL  http://" + addr + "/webhooks", "verified msg_cli device.created", "REFUSED msg_cli"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
