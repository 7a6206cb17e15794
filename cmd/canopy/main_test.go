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

// TestServeSeedsAndShutsDownOnSIGTERM runs the real `canopy serve` on an empty
// SQLite data folder, checks it answers, then sends SIGTERM and expects a
// clean exit.
func TestServeSeedsAndShutsDownOnSIGTERM(t *testing.T) {
	addr := freePort(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	t.Setenv("CANOPY_ADDR", addr)
	t.Setenv("CANOPY_BASE_URL", "http://localhost:"+port)
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	t.Setenv("DATABASE_URL", "")
	out := &testkit.LockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- run([]string{"serve", "--seed-demo-if-empty"}, out) }()

	var res *http.Response
	var err error
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		if res, err = http.Get("http://" + addr + "/healthz"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("server never answered: %v\n%s", err, out)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "ok") {
		t.Fatalf("healthz: %d %s", res.StatusCode, body)
	}
	// The billing job's first pass runs as the server starts; let it end
	// (a busy machine under -race may take a moment) before stopping.
	for start := time.Now(); time.Since(start) < 20*time.Second && !strings.Contains(out.String(), "billing job: pass done"); {
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v\n%s", err, out)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop after SIGTERM\n%s", out)
	}
	for _, want := range []string{"demo data loaded", "alice@acme.test", "billing job: pass done", "shutting down", "billing job stopped", "stopped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
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
