package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clientCount is how many signed-in browsers work at once in the load
// scenarios, each its own session.
const clientCount = 32

// failure is one request that did not get the answer a working Canopy
// gives.
type failure struct {
	at       time.Time
	client   int
	request  string
	status   int // 0: no answer at all
	servedBy string
	problem  string
}

func (f failure) String() string {
	return fmt.Sprintf("%s client %d: %s → status %d, served by %q: %s",
		f.at.Format("15:04:05.000"), f.client, f.request, f.status, f.servedBy, f.problem)
}

// load is the clients' work: each adds devices with identifiers of its own
// and reads pages, back to back, until stopped.
type load struct {
	label    string
	clients  []*loadClient
	requests atomic.Int64
	mu       sync.Mutex
	failures []failure
	acked    []string // identifiers of devices whose creation was answered with success
	wg       sync.WaitGroup
	stop     atomic.Bool
}

// loadClient is one signed-in browser and its form token at Acme.
type loadClient struct {
	b    *browser
	csrf string
}

// loadClients signs clientCount browsers in as alice at Acme (once;
// the sessions outlive instance restarts and are shared by the scenarios).
func (c *cluster) loadClients(t *testing.T) []*loadClient {
	t.Helper()
	if c.clients != nil {
		return c.clients
	}
	began := time.Now()
	browsers := c.signedIn(t, clientCount, "alice@acme.test", "acme")
	ctx := context.Background()
	for _, b := range browsers {
		token, err := b.csrf(ctx, b.tenantURL("acme", "/devices"))
		if err != nil {
			t.Fatal(err)
		}
		c.clients = append(c.clients, &loadClient{b: b, csrf: token})
	}
	logf(t, "%d browsers signed in as alice@acme.test through the balancer in %s", clientCount, time.Since(began).Round(time.Millisecond))
	return c.clients
}

// startLoad sets the clients to work.
func startLoad(label string, clients []*loadClient) *load {
	l := &load{label: label, clients: clients}
	for i, lc := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.work(i, lc)
		}()
	}
	return l
}

// work is one client's loop: add a device, read the list (or Home), again.
func (l *load) work(i int, lc *loadClient) {
	ctx := context.Background()
	for n := 1; !l.stop.Load(); n++ {
		id := fmt.Sprintf("%s-c%02d-%05d", l.label, i, n)
		form := url.Values{"_csrf": {lc.csrf}, "identifier": {id}, "model": {"Cluster probe"}}
		p, err := lc.b.do(ctx, http.MethodPost, lc.b.tenantURL("acme", "/devices"), form)
		switch {
		case err == nil && p.status == http.StatusSeeOther && p.location == "/devices":
			l.mu.Lock()
			l.acked = append(l.acked, id)
			l.mu.Unlock()
		default:
			l.fail(i, "POST /devices "+id, p, err)
		}
		l.requests.Add(1)
		path := "/devices?q=" + url.QueryEscape(id)
		if n%2 == 0 {
			path = "/"
		}
		p, err = lc.b.get(ctx, lc.b.tenantURL("acme", path))
		l.requests.Add(1)
		if err != nil || p.status != http.StatusOK {
			l.fail(i, "GET "+path, p, err)
		}
	}
}

func (l *load) fail(client int, request string, p page, err error) {
	f := failure{at: time.Now(), client: client, request: request, status: p.status, servedBy: p.servedBy}
	switch {
	case err != nil:
		f.problem = err.Error()
	default:
		f.problem = excerpt(p.body)
	}
	l.mu.Lock()
	l.failures = append(l.failures, f)
	l.mu.Unlock()
}

// finish stops the clients and waits for their last requests.
func (l *load) finish() {
	l.stop.Store(true)
	l.wg.Wait()
}

// result is what the load saw.
func (l *load) result() (requests int64, failures []failure, acked []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests.Load(), append([]failure(nil), l.failures...), append([]string(nil), l.acked...)
}

// checkAcked fails the test unless every acknowledged device is in the
// database, read by the inspector; it returns how many rows it checked.
func (c *cluster) checkAcked(t *testing.T, label string, acked []string) int {
	t.Helper()
	present := map[string]bool{}
	for _, id := range c.pg.queryStrings(t, `SELECT identifier FROM devices WHERE identifier LIKE $1`, label+"-%") {
		present[id] = true
	}
	var missing []string
	for _, id := range acked {
		if !present[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s: %d of %d acknowledged devices are missing from the database, e.g. %v", label, len(missing), len(acked), missing[:min(5, len(missing))])
	}
	return len(present)
}

// failureList is up to n failures, one a line.
func failureList(failures []failure, n int) string {
	var b strings.Builder
	for i, f := range failures {
		if i == n {
			fmt.Fprintf(&b, "… and %d more\n", len(failures)-n)
			break
		}
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// scenarioRollingRestart: 32 clients work while each instance in turn is
// stopped with SIGTERM (it drains), started again and waited for; no
// request fails and every acknowledged device is there.
func scenarioRollingRestart(t *testing.T, c *cluster) {
	rollingRestart(t, c, "c", c.instances)
}

func rollingRestart(t *testing.T, c *cluster, label string, restart []*instance) {
	clients := c.loadClients(t)
	l := startLoad(label, clients)
	defer l.finish()
	time.Sleep(2 * time.Second)
	var took []string
	for _, in := range restart {
		d := c.restart(t, in)
		took = append(took, fmt.Sprintf("%s %s", in.name, d.Round(time.Millisecond)))
		time.Sleep(time.Second)
	}
	l.finish()
	requests, failures, acked := l.result()
	if len(failures) > 0 {
		t.Fatalf("%s: %d of %d requests failed during the rolling restart:\n%s", label, len(failures), requests, failureList(failures, 20))
	}
	rows := c.checkAcked(t, label, acked)
	logf(t, "%s: rolling restart (%s) under %d clients: %d requests, 0 failures, %d devices acknowledged, %d rows checked present",
		label, strings.Join(took, ", "), len(clients), requests, len(acked), rows)
}
