package dnsproof_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/internal/dnsproof"
	"canopy/internal/dnsproof/dnstest"
)

const (
	name = "_canopy-verification.example.com"
	want = "canopy-verification=abc123"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	long := "v=spf1 " + strings.Repeat("include:_spf.example.net ", 20) + "~all" // more than one 255-byte string
	for _, tc := range []struct {
		name    string
		setup   func(s *dnstest.Server)
		match   bool
		records []string
		failed  bool // ErrLookup
	}{
		{"the record wanted", func(s *dnstest.Server) { s.SetTXT(name, want) }, true, []string{want}, false},
		{"a wrong value", func(s *dnstest.Server) { s.SetTXT(name, "canopy-verification=other") }, false, []string{"canopy-verification=other"}, false},
		{"the value wanted with more around it", func(s *dnstest.Server) { s.SetTXT(name, want+" ") }, false, []string{want + " "}, false},
		{"several records, one of them wanted", func(s *dnstest.Server) { s.SetTXT(name, long, want, "google-site-verification=x") },
			true, []string{long, want, "google-site-verification=x"}, false},
		{"no such name (NXDOMAIN)", func(s *dnstest.Server) { s.SetTXT("example.com", "unrelated") }, false, nil, false},
		{"the name holds no TXT record", func(s *dnstest.Server) { s.SetTXT(name) }, false, nil, false},
		{"the record wanted, in an answer too large for UDP", func(s *dnstest.Server) { s.SetTXT(name, want); s.TruncateUDP() }, true, []string{want}, false},
		{"the server fails (SERVFAIL)", func(s *dnstest.Server) { s.ServFail(name) }, false, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := dnstest.Start(t)
			tc.setup(srv)
			got, err := dnsproof.NewChecker(srv.Addr, 3*time.Second).Check(context.Background(), name, want)
			if tc.failed {
				if !errors.Is(err, dnsproof.ErrLookup) {
					t.Fatalf("err %v, want ErrLookup", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Match != tc.match || !slices.Equal(got.Records, tc.records) {
				t.Errorf("got %+v, want match %v and records %q", got, tc.match, tc.records)
			}
		})
	}
}

// TestCheckGoesOverTCPWhenUDPIsTruncated: the resolver configured is asked
// over TCP too, not only its UDP port.
func TestCheckGoesOverTCPWhenUDPIsTruncated(t *testing.T) {
	t.Parallel()
	srv := dnstest.Start(t)
	srv.SetTXT(name, want)
	srv.TruncateUDP()
	got, err := dnsproof.NewChecker(srv.Addr, 3*time.Second).Check(context.Background(), name, want)
	if err != nil || !got.Match {
		t.Fatalf("got %+v, %v", got, err)
	}
	if srv.TCPQueries() == 0 {
		t.Error("no query came over TCP")
	}
}

// TestCheckGivesUpAtItsTimeout: a resolver that never answers costs the
// timeout, not the system's seconds of retries.
func TestCheckGivesUpAtItsTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	start := time.Now()
	got, err := dnsproof.NewChecker(dnstest.Silent(t), timeout).Check(context.Background(), name, want)
	took := time.Since(start)
	if !errors.Is(err, dnsproof.ErrLookup) || got.Match {
		t.Fatalf("got %+v, %v; want ErrLookup", got, err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("gave up after %v, want about %v", took, timeout)
	}
}

// TestCheckHonoursItsCaller: a request that ends stops its lookup.
func TestCheckHonoursItsCaller(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dnsproof.NewChecker(dnstest.Silent(t), time.Minute).Check(ctx, name, want); !errors.Is(err, dnsproof.ErrLookup) {
		t.Fatalf("err %v, want ErrLookup", err)
	}
}
