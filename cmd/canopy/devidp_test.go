package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"canopy/internal/devidp"
	"canopy/internal/testkit"
)

func TestDevIDPFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    devidp.Config
		wantErr string
	}{
		{name: "defaults", want: devidp.Config{Addr: "127.0.0.1:9998", ClientID: "canopy-dev", ClientSecret: "canopy-dev-secret"}},
		{
			name: "every flag",
			args: []string{"--addr", "127.0.0.1:7000", "--client-id=acme", "--client-secret", "s3cret"},
			want: devidp.Config{Addr: "127.0.0.1:7000", ClientID: "acme", ClientSecret: "s3cret"},
		},
		{name: "an unknown flag", args: []string{"--issuer", "x"}, wantErr: "flag provided but not defined"},
		{name: "an argument", args: []string{"now"}, wantErr: "takes no arguments"},
		{name: "an empty secret", args: []string{"--client-secret="}, wantErr: "--client-secret is empty"},
		{name: "an empty address", args: []string{"--addr", ""}, wantErr: "--addr is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDevIDPFlags(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestDevIDPServesUntilCancelled runs the command's body: it prints the
// issuer and client, serves discovery there, and stops when told to.
func TestDevIDPServesUntilCancelled(t *testing.T) {
	out := &testkit.LockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runDevIDP(ctx, devidp.Config{Addr: "127.0.0.1:0", ClientID: "canopy-dev", ClientSecret: "canopy-dev-secret"}, out)
	}()
	issuerLine := regexp.MustCompile(`issuer\s+(http://127\.0\.0\.1:\d+/oidc)\n`)
	var issuer string
	for start := time.Now(); issuer == "" && time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if m := issuerLine.FindStringSubmatch(out.String()); m != nil {
			issuer = m[1]
		}
	}
	if issuer == "" {
		t.Fatalf("no issuer printed:\n%s", out)
	}
	for _, want := range []string{"for development only", "client id      canopy-dev", "client secret  canopy-dev-secret", "Ctrl-C"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	res, err := http.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(res.Body).Decode(&d)
	res.Body.Close()
	if err != nil || d.Issuer != issuer {
		t.Fatalf("discovery says issuer %q (%v), printed %q", d.Issuer, err, issuer)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	if _, err := http.Get(issuer + "/.well-known/openid-configuration"); err == nil {
		t.Error("still serving after it stopped")
	}
}

// TestDevIDPNeedsNoConfiguration: the provider runs beside Canopy, so
// Canopy's own settings, even broken, do not stop it.
func TestDevIDPNeedsNoConfiguration(t *testing.T) {
	t.Setenv("CANOPY_BASE_URL", "ftp://nope")
	err := run([]string{"devidp", "--addr", "0.0.0.0:0"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Fatalf("err = %v, want the provider's own refusal", err)
	}
}
