// Package cluster proves that Canopy runs as several instances behind a
// real load balancer (HAProxy) on one PostgreSQL under row-level security:
// migrations at once, sign-in and its hand-offs across instances, rolling
// restarts and a killed instance under load, sign-in throttling across
// instances, PostgreSQL restarted under load, and the instances' pools
// behind PgBouncer in transaction mode. It runs only with CANOPY_CLUSTER=1
// (make test-cluster), as root on a machine with PostgreSQL's cluster
// tools, haproxy and pgbouncer (Debian's packages), and never touches the
// machine's main PostgreSQL cluster: it makes one of its own.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/internal/webhook"
)

const (
	instanceCount = 3
	// drainDelay is CANOPY_DRAIN_DELAY: HAProxy checks readiness every
	// 250 ms and takes an instance out after two failures; the rest is
	// room for a busy two-core machine.
	drainDelay = 2 * time.Second
	// readyLimit bounds an instance's start (migrations checked, workers
	// started) until it answers /readyz.
	readyLimit = 60 * time.Second
)

// cluster is everything the scenarios share.
type cluster struct {
	// root is the whole test: the processes live as long as it, not as
	// the scenario that started them, and its cleanup kills them.
	root       *testing.T
	dir        string
	bin        string
	pg         *postgres
	mail       *smtpSink
	hooks      *webhookSink
	lb         *haproxy
	bouncer    *pgbouncer // once scenario f started it
	instances  []*instance
	base       string // CANOPY_BASE_URL: the balancer's address
	sessionKey string
	serverURL  string // the instances' DATABASE_URL: direct, or through PgBouncer
	clients    []*loadClient
	seq        int // for names unique within the run
	seqMu      sync.Mutex
}

func TestCluster(t *testing.T) {
	if os.Getenv("CANOPY_CLUSTER") != "1" {
		t.Skip("the cluster test runs only with CANOPY_CLUSTER=1 (make test-cluster)")
	}
	started := time.Now()
	c := newCluster(t)
	scenarios := []struct {
		name string
		run  func(*testing.T, *cluster)
		// needed: the scenarios after it make no sense without it.
		needed bool
	}{
		{"a migrations at once", scenarioMigrations, true},
		{"b flows across instances", scenarioFlows, true},
		{"c rolling restart", scenarioRollingRestart, false},
		{"d instance killed", scenarioInstanceKilled, false},
		{"e brute force across instances", scenarioBruteForce, false},
		{"g PostgreSQL restarted", scenarioPostgresRestart, false},
		{"f PgBouncer", scenarioPgBouncer, false},
	}
	for _, s := range scenarios {
		c.ensureInstances(t)
		if !t.Run(s.name, func(t *testing.T) { s.run(t, c) }) {
			c.dumpLogs(t, s.name)
			if s.needed {
				return
			}
		}
	}
	logf(t, "whole cluster test: %s", time.Since(started).Round(time.Second))
}

// newCluster makes the private PostgreSQL cluster, builds the binary,
// starts the sinks and HAProxy; the instances start in scenario a.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{root: t, dir: t.TempDir()}
	c.pg = startPostgres(t)
	c.serverURL = c.pg.url(serverRole)
	c.bin = filepath.Join(c.dir, "canopy")
	build := exec.Command("go", "build", "-o", c.bin, "canopy/cmd/canopy")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	c.sessionKey = base64.StdEncoding.EncodeToString(key)
	c.mail = startSMTPSink(t)
	c.hooks = startWebhookSink(t, webhook.DevSecret)

	lbPort := freePort(t)
	c.base = fmt.Sprintf("http://localhost:%d", lbPort)
	for i := range instanceCount {
		name := fmt.Sprintf("canopy%d", i+1)
		dataDir := filepath.Join(c.dir, name)
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		c.instances = append(c.instances, &instance{name: name, port: freePort(t), dataDir: dataDir,
			logPath: filepath.Join(c.dir, name+".log")})
	}
	c.lb = startHAProxy(t, c.dir, lbPort, c.instances)
	logf(t, "PostgreSQL %s cluster %s on port %d, HAProxy on %s, instances %s",
		c.pg.version, clusterName, c.pg.port, c.base, c.instanceAddrs())
	return c
}

func (c *cluster) instanceAddrs() string {
	var addrs []string
	for _, in := range c.instances {
		addrs = append(addrs, in.name+"="+in.addr())
	}
	return strings.Join(addrs, " ")
}

// env is an instance's environment (or the seed command's, with
// dataDir): nothing of the test's own environment but PATH and HOME, so a
// DATABASE_URL set on the machine cannot leak in.
func (c *cluster) env(addr, dataDir, databaseURL, ownerURL string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"CANOPY_ADDR=" + addr,
		"CANOPY_BASE_URL=" + c.base,
		"CANOPY_DATA_DIR=" + dataDir,
		"CANOPY_SESSION_KEY=" + c.sessionKey,
		"CANOPY_TRUSTED_PROXIES=127.0.0.1/32",
		"CANOPY_DRAIN_DELAY=" + drainDelay.String(),
		"CANOPY_SHUTDOWN_TIMEOUT=15s",
		"CANOPY_SMTP_HOST=127.0.0.1",
		"CANOPY_SMTP_PORT=" + strconv.Itoa(c.mail.addr.Port),
		"CANOPY_LOG_LEVEL=info",
		"DATABASE_URL=" + databaseURL,
		"DATABASE_OWNER_URL=" + ownerURL,
	}
}

// start runs the instance's `canopy serve` (not waiting for it).
func (c *cluster) start(t *testing.T, in *instance) {
	t.Helper()
	in.proc = startProcess(c.root, in.name, in.logPath, c.env(in.addr(), in.dataDir, c.serverURL, c.pg.url(ownerRole)), c.bin, "serve")
}

// waitReady waits until the instance answers /readyz itself and HAProxy
// has it in rotation again.
func (c *cluster) waitReady(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(readyLimit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := client.Get("http://" + in.addr() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if !in.proc.running() {
			t.Fatalf("%s exited while starting: %v\n%s", in.name, in.proc.err, in.proc.tail(40))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v\n%s", in.name, readyLimit, err, in.proc.tail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.lb.waitStatus(in.name, "UP", 15*time.Second); err != nil {
		t.Fatal(err)
	}
}

// restart stops the instance with SIGTERM (it drains, then shuts down),
// starts it again and waits until it is back in rotation.
func (c *cluster) restart(t *testing.T, in *instance) time.Duration {
	t.Helper()
	began := time.Now()
	if err := in.proc.signal(syscall.SIGTERM, drainDelay+30*time.Second); err != nil {
		t.Fatalf("stop %s: %v\n%s", in.name, err, in.proc.tail(40))
	}
	if in.proc.err != nil {
		t.Errorf("%s exited with %v after SIGTERM\n%s", in.name, in.proc.err, in.proc.tail(40))
	}
	c.start(t, in)
	c.waitReady(t, in)
	return time.Since(began)
}

// ensureInstances starts any instance not running (a scenario that failed
// may have left one down), so the next scenario begins with all three.
func (c *cluster) ensureInstances(t *testing.T) {
	t.Helper()
	for _, in := range c.instances {
		if in.proc != nil && !in.proc.running() {
			logf(t, "%s was down; starting it again", in.name)
			c.start(t, in)
			c.waitReady(t, in)
		}
	}
}

// dumpLogs prints the end of every log after a failed scenario.
func (c *cluster) dumpLogs(t *testing.T, scenario string) {
	t.Helper()
	for _, in := range c.instances {
		t.Logf("scenario %q failed; last lines of %s's log (%s):\n%s", scenario, in.name, in.logPath, tailFile(in.logPath, 30))
	}
	t.Logf("HAProxy's log:\n%s", tailFile(c.lb.proc.logPath, 20))
	if c.bouncer != nil {
		t.Logf("PgBouncer's log (running: %v):\n%s", c.bouncer.proc.running(), tailFile(c.bouncer.proc.logPath, 30))
	}
}

// unique is a number not used before in this run, for names.
func (c *cluster) unique() int {
	c.seqMu.Lock()
	defer c.seqMu.Unlock()
	c.seq++
	return c.seq
}

// browser is a new browser going through the balancer.
func (c *cluster) browser() *browser {
	return newBrowser(c.base, c.lb.addr())
}

// browserAt is a new browser that talks to one instance directly.
func (c *cluster) browserAt(in *instance) *browser {
	return newBrowser(c.base, in.addr())
}

func (h *haproxy) addr() string { return "127.0.0.1:" + strconv.Itoa(h.port) }

// signedIn signs n browsers in as email at sub, each its own session.
func (c *cluster) signedIn(t *testing.T, n int, email, sub string) []*browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	browsers := make([]*browser, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // sign-in hashes a password: a few at a time
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b := c.browser()
			_, errs[i] = b.signIn(ctx, email, demo.Password, sub)
			browsers[i] = b
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("sign in browser %d: %v", i, err)
		}
	}
	return browsers
}

// waitMail waits for a message to address and returns the first.
func (c *cluster) waitMail(t *testing.T, address string) email {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := c.mail.to(address); len(got) > 0 {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s within 30 s; the sink has %d messages", address, len(c.mail.received()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
