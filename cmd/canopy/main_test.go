package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"canopy/internal/config"
	"canopy/internal/testdb"
	"canopy/internal/testkit"
	"canopy/models"
)

// TestMain removes the template databases testdb made.
func TestMain(m *testing.M) { testdb.Main(m) }

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).AddrPort().String()
}

// startServe runs the real `canopy serve` (with args) in this process on
// an empty SQLite data folder, until it answers /healthz; done receives
// what serve returned.
func startServe(t *testing.T, drainDelay string, args ...string) (addr string, out *testkit.LockedBuffer, done chan error) {
	t.Helper()
	addr = freePort(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	t.Setenv("CANOPY_ADDR", addr)
	t.Setenv("CANOPY_BASE_URL", "http://localhost:"+port)
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	t.Setenv("CANOPY_DRAIN_DELAY", drainDelay)
	t.Setenv("DATABASE_URL", "")
	out = &testkit.LockedBuffer{}
	done = make(chan error, 1)
	go func() { done <- run(append([]string{"serve"}, args...), out) }()

	var err error
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		var status int
		if status, _, err = getStatus(addr, "/healthz"); err == nil && status == http.StatusOK {
			return addr, out, done
		}
	}
	t.Fatalf("server never answered: %v\n%s", err, out)
	return "", nil, nil
}

// getStatus asks addr for path on a connection of its own.
func getStatus(addr, path string) (int, string, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	res, err := client.Get("http://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// waitForExit fails the test unless serve returns nil within limit.
func waitForExit(t *testing.T, done chan error, limit time.Duration, out *testkit.LockedBuffer) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v\n%s", err, out)
		}
	case <-time.After(limit):
		t.Fatalf("serve did not stop within %s\n%s", limit, out)
	}
}

// TestServeSeedsAndShutsDownOnSIGTERM runs the real `canopy serve` on an empty
// SQLite data folder, checks it answers, then sends SIGTERM: it drains
// (readiness 503, pages still served) for CANOPY_DRAIN_DELAY, then exits
// cleanly.
func TestServeSeedsAndShutsDownOnSIGTERM(t *testing.T) {
	const drainDelay = 2 * time.Second
	addr, out, done := startServe(t, drainDelay.String(), "--seed-demo-if-empty")
	if status, body, err := getStatus(addr, "/readyz"); err != nil || status != http.StatusOK || !strings.Contains(body, "ready") {
		t.Fatalf("readyz before SIGTERM: %d %s %v", status, body, err)
	}
	// The billing job's first pass runs as the server starts; let it end
	// (a busy machine under -race may take a moment) before stopping.
	for start := time.Now(); time.Since(start) < 20*time.Second && !strings.Contains(out.String(), "billing job: pass done"); {
		time.Sleep(50 * time.Millisecond)
	}
	signalled := time.Now()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var status int
	var err error
	for ; time.Since(signalled) < drainDelay; time.Sleep(20 * time.Millisecond) {
		if status, _, err = getStatus(addr, "/readyz"); status == http.StatusServiceUnavailable {
			break
		}
	}
	if status != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the drain: %d %v, want 503", status, err)
	}
	if status, _, err := getStatus(addr, "/healthz"); status != http.StatusOK {
		t.Fatalf("healthz during the drain: %d %v, want 200: requests are still served", status, err)
	}
	waitForExit(t, done, 20*time.Second, out)
	if took := time.Since(signalled); took < drainDelay {
		t.Errorf("serve stopped %s after SIGTERM, before its drain delay of %s", took, drainDelay)
	}
	for _, want := range []string{"demo data loaded", "alice@acme.test", "billing job: pass done", "draining", "shutting down", "billing job stopped", "stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestServeStopsAtOnceOnSIGINT: Ctrl-C in a terminal does not wait for a
// load balancer, however long the drain delay.
func TestServeStopsAtOnceOnSIGINT(t *testing.T) {
	_, out, done := startServe(t, "1m")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitForExit(t, done, 20*time.Second, out)
	if strings.Contains(out.String(), "draining") {
		t.Errorf("SIGINT drained:\n%s", out)
	}
}

func TestUnknownCommand(t *testing.T) {
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	if err := run([]string{"fly"}, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("err = %v", err)
	}
	var out bytes.Buffer
	if err := run(nil, &out); err != nil || !strings.Contains(out.String(), "canopy serve") {
		t.Fatalf("usage not printed: %v %q", err, out.String())
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	t.Setenv("CANOPY_BASE_URL", "ftp://nope")
	if err := run([]string{"migrate"}, io.Discard); err == nil || !strings.Contains(err.Error(), "CANOPY_BASE_URL") {
		t.Fatalf("err = %v", err)
	}
}

// TestMigrateWritesTheScopeKey: `canopy migrate`, as the owner, gives the
// database the key derived from CANOPY_SESSION_KEY: a store signing with it
// passes the start-up check, and one with the key it replaced does not.
func TestMigrateWritesTheScopeKey(t *testing.T) {
	serverURL := os.Getenv(testdb.EnvVar)
	if serverURL == "" {
		t.Skip("the scope key is Postgres's; set " + testdb.EnvVar)
	}
	owner, app := testdb.OpenAsApp(t)
	var name string
	if err := owner.Raw("SELECT current_database()").Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	dbURL, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	dbURL.Path = "/" + name
	sessionKey := base64.StdEncoding.EncodeToString([]byte("a session key of at least 32 bytes, for this test"))
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	t.Setenv("CANOPY_SESSION_KEY", sessionKey)
	t.Setenv("DATABASE_URL", dbURL.String())
	t.Setenv("DATABASE_OWNER_URL", "")
	if err := run([]string{"migrate"}, io.Discard); err != nil {
		t.Fatal(err)
	}

	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := models.NewStore(app).WithScopeKey(secrets.DatabaseScope).CheckScopeKey(ctx); err != nil {
		t.Fatalf("the server's store after migrate: %v", err)
	}
	if err := models.NewStore(app).WithScopeKey(testdb.ScopeKey).CheckScopeKey(ctx); !errors.Is(err, models.ErrScopeKeyMismatch) {
		t.Fatalf("a store with the key migrate replaced: err %v, want ErrScopeKeyMismatch", err)
	}
}
