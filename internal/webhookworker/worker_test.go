package webhookworker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"canopy/internal/netguard"
	"canopy/internal/testdb"
	"canopy/internal/webhook"
	"canopy/internal/webhookworker"
	"canopy/models"
)

var webhookKey = []byte("0123456789abcdef0123456789abcdef")

// fast is a retry schedule of milliseconds, so tests never wait long.
var fast = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}

// loopback lets the worker reach the tests' receivers on 127.0.0.1.
var loopback = netguard.Policy{AllowPrivate: true}

// world is the demo data, written by the owner, and the store the worker
// uses: on PostgreSQL the application role, under row-level security.
type world struct {
	owner  *models.Store
	app    *models.Store
	acme   int64
	globex int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ownerDB, appDB := testdb.OpenDemoAsApp(t)
	settings := models.WebhookSettings{SecretKey: webhookKey}
	owner, err := models.NewStore(ownerDB).WithWebhooks(settings)
	if err != nil {
		t.Fatal(err)
	}
	app, err := models.NewStore(appDB).WithScopeKey(testdb.ScopeKey).WithWebhooks(settings)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{owner: owner, app: app}
	ctx := context.Background()
	for sub, id := range map[string]*int64{"acme": &w.acme, "globex": &w.globex} {
		tenant, err := owner.TenantBySubdomain(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		*id = tenant.ID
	}
	return w
}

// endpoint adds a sandbox endpoint of Acme's at url receiving device.created.
func (w *world) endpoint(t *testing.T, url string) (*models.WebhookEndpoint, string) {
	t.Helper()
	e, secret, err := w.owner.CreateWebhookEndpoint(context.Background(), w.acme, models.WebhookEndpointInput{
		Environment: models.WebhookSandbox, URL: url, Events: []string{models.EventDeviceCreated}})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

var deviceN atomic.Int64

// emit adds n devices to Acme, each announced as device.created.
func (w *world) emit(t *testing.T, n int) {
	t.Helper()
	for range n {
		id := fmt.Sprintf("DEV-%d", deviceN.Add(1))
		if _, err := w.owner.AddDevice(context.Background(), w.acme, models.NewDevice{Identifier: id, Model: "Gate"}); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *world) deliveries(t *testing.T, e *models.WebhookEndpoint) []models.WebhookDeliveryRow {
	t.Helper()
	p, err := w.owner.ListWebhookDeliveries(context.Background(), w.acme, e.ID, models.WebhookDeliveryFilter{}, models.PageRequest{Number: 1, Size: 200})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func (w *world) attempts(t *testing.T, e *models.WebhookEndpoint) []models.WebhookAttemptRow {
	t.Helper()
	p, err := w.owner.ListWebhookAttempts(context.Background(), w.acme, e.ID, models.WebhookAttemptFilter{}, models.PageRequest{Number: 1, Size: 200})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

// waitFor polls cond until it holds, failing after a few seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// start runs a worker until the test ends.
func start(t *testing.T, store *models.Store, policy netguard.Policy, opts ...webhookworker.Option) *webhookworker.Worker {
	t.Helper()
	opts = append([]webhookworker.Option{webhookworker.WithSchedule(fast), webhookworker.WithPollInterval(5 * time.Millisecond)}, opts...)
	wk := webhookworker.New(store, policy, slog.New(slog.NewTextHandler(io.Discard, nil)), opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); wk.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return wk
}

// receiver is a real HTTP server on loopback that verifies each request
// with the specification's reference library and answers as told.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secrets  []string
	requests []*received
	answer   func(n int, r *http.Request) (int, http.Header, string) // n counts from 1
}

type received struct {
	id       string
	body     []byte
	header   http.Header
	verified []error // per secret: nil when the signature verified
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, http.Header, string)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got := &received{id: r.Header.Get(webhook.HeaderID), body: body, header: r.Header.Clone()}
		rc.mu.Lock()
		for _, s := range rc.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			if err == nil {
				err = wh.Verify(body, r.Header)
			}
			got.verified = append(got.verified, err)
		}
		rc.requests = append(rc.requests, got)
		n := len(rc.requests)
		rc.mu.Unlock()
		status, header, text := http.StatusNoContent, http.Header(nil), ""
		if rc.answer != nil {
			status, header, text = rc.answer(n, r)
		}
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) trust(secrets ...string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets = secrets
}

func (rc *receiver) got() []*received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*received(nil), rc.requests...)
}

// A delivery reaches a real receiver signed so that the reference library
// verifies it, and the log keeps what was sent and received.
func TestDeliversSignedEvents(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) { return http.StatusOK, nil, `{"ok":true}` })
	e, secret := w.endpoint(t, rc.URL+"/hooks")
	rc.trust(secret)
	w.emit(t, 1)
	start(t, w.app, loopback)
	waitFor(t, "the delivery", func() bool {
		d := w.deliveries(t, e)
		return len(d) == 1 && d[0].Status == models.DeliverySucceeded
	})
	got := rc.got()
	if len(got) != 1 || got[0].verified[0] != nil {
		t.Fatalf("received %d requests; verified: %v", len(got), got[0].verified)
	}
	var p struct {
		Type string
		Data map[string]any
	}
	if err := json.Unmarshal(got[0].body, &p); err != nil || p.Type != models.EventDeviceCreated || !strings.HasPrefix(p.Data["identifier"].(string), "DEV-") {
		t.Fatalf("body %s: %v", got[0].body, err)
	}
	if ct := got[0].header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	d := w.deliveries(t, e)[0]
	if got[0].id != d.MsgID {
		t.Errorf("webhook-id %q, message %q", got[0].id, d.MsgID)
	}
	a := w.attempts(t, e)
	if len(a) != 1 || !a[0].Succeeded || a[0].StatusCode == nil || *a[0].StatusCode != 200 || a[0].ResponseBody != `{"ok":true}` ||
		a[0].RequestBody != string(got[0].body) || !strings.Contains(a[0].RequestHeaders, d.MsgID) {
		t.Errorf("attempt logged as %+v", a[0])
	}
}

// A receiver failing twice then answering gets the same webhook-id three
// times, and the log shows two failures then a success.
func TestRetriesUntilSuccess(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, func(n int, _ *http.Request) (int, http.Header, string) {
		if n <= 2 {
			return http.StatusInternalServerError, nil, "down"
		}
		return http.StatusOK, nil, ""
	})
	e, secret := w.endpoint(t, rc.URL)
	rc.trust(secret)
	w.emit(t, 1)
	start(t, w.app, loopback)
	waitFor(t, "the third attempt to succeed", func() bool {
		d := w.deliveries(t, e)
		return len(d) == 1 && d[0].Status == models.DeliverySucceeded
	})
	got := rc.got()
	if len(got) != 3 || got[0].id != got[1].id || got[1].id != got[2].id {
		t.Fatalf("%d requests, ids %v", len(got), ids(got))
	}
	for i, r := range got {
		if r.verified[0] != nil {
			t.Errorf("attempt %d: %v", i+1, r.verified[0])
		}
	}
	a := w.attempts(t, e) // newest first
	if len(a) != 3 || !a[0].Succeeded || a[1].Succeeded || a[2].Succeeded || a[2].Error != "answered 500" || a[2].ResponseBody != "down" {
		t.Fatalf("attempts %+v", a)
	}
	if ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID); ep.FailingSince != nil {
		t.Errorf("still failing since %v after a success", ep.FailingSince)
	}
}

func ids(rs []*received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id
	}
	return out
}

// After the schedule is spent the delivery has failed; a redirect is a
// failure and is not followed.
func TestGivesUpAndFollowsNoRedirect(t *testing.T) {
	w := newWorld(t)
	var followed atomic.Int64
	elsewhere := newReceiver(t, func(int, *http.Request) (int, http.Header, string) { followed.Add(1); return 200, nil, "" })
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
		return http.StatusFound, http.Header{"Location": {elsewhere.URL}}, ""
	})
	e, _ := w.endpoint(t, rc.URL)
	w.emit(t, 1)
	start(t, w.app, loopback)
	waitFor(t, "the delivery to fail", func() bool {
		d := w.deliveries(t, e)
		return len(d) == 1 && d[0].Status == models.DeliveryFailed
	})
	if n := len(rc.got()); n != len(fast)+1 {
		t.Errorf("%d attempts, want %d", n, len(fast)+1)
	}
	if followed.Load() != 0 {
		t.Error("a redirect was followed")
	}
	if a := w.attempts(t, e); !strings.Contains(a[0].Error, "redirect") {
		t.Errorf("logged %q", a[0].Error)
	}
}

// 410 Gone disables the endpoint at once: its other pending deliveries
// stop, and the company's Admins are emailed through the outbox.
func TestGoneDisablesTheEndpoint(t *testing.T) {
	w := newWorld(t)
	var release = make(chan struct{})
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
		<-release
		return http.StatusGone, nil, ""
	})
	e, _ := w.endpoint(t, rc.URL)
	w.emit(t, 3)
	var mailed atomic.Int64
	start(t, w.app, loopback, webhookworker.WithConcurrency(1, 1), webhookworker.WithDisabledMail(func(n models.WebhookDisabledNotice) models.NewEmail {
		mailed.Add(1)
		return models.NewEmail{Subject: "Webhook endpoint disabled: " + n.URL, Body: n.Reason + " " + n.TenantSubdomain}
	}))
	close(release)
	waitFor(t, "the endpoint to be disabled", func() bool {
		ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID)
		return !ep.Enabled
	})
	ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID)
	if !strings.Contains(ep.DisabledReason, "410") {
		t.Errorf("reason %q", ep.DisabledReason)
	}
	statuses := map[string]int{}
	for _, d := range w.deliveries(t, e) {
		statuses[d.Status]++
	}
	if statuses[models.DeliveryFailed] != 1 || statuses[models.DeliveryDisabled] != 2 || len(rc.got()) != 1 {
		t.Errorf("deliveries %v after %d requests", statuses, len(rc.got()))
	}
	if mailed.Load() == 0 {
		t.Fatal("no Admin was emailed")
	}
	sent, err := w.owner.OutboxFor(context.Background(), "alice@acme.test")
	if err != nil || len(sent) == 0 || !strings.Contains(sent[len(sent)-1].Subject, rc.URL) || !strings.Contains(sent[len(sent)-1].BodyText, "acme") {
		t.Errorf("alice's mail %+v, %v", sent, err)
	}
}

// clock is a settable time for the worker.
type clock struct{ at atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.at.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.at.Load()) }

// 429 and 503 put the next attempt off by Retry-After, within a bound.
func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		status int
		header string
		want   time.Duration
	}{
		{http.StatusTooManyRequests, "120", 120 * time.Second},
		{http.StatusServiceUnavailable, "86400", time.Hour}, // bounded
		{http.StatusServiceUnavailable, "", time.Millisecond},
	} {
		t.Run(fmt.Sprintf("%d %q", c.status, c.header), func(t *testing.T) {
			w := newWorld(t)
			rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
				return c.status, http.Header{"Retry-After": {c.header}}, ""
			})
			e, _ := w.endpoint(t, rc.URL)
			w.emit(t, 1)
			at := time.Now().Add(time.Second).UTC().Truncate(time.Second)
			clk := newClock(at)
			start(t, w.app, loopback, webhookworker.WithClock(clk.now), webhookworker.WithMaxRetryAfter(time.Hour))
			waitFor(t, "the first attempt", func() bool { return len(w.attempts(t, e)) >= 1 })
			d := w.deliveries(t, e)[0]
			if got := d.NextAttemptAt.Sub(at); got != c.want {
				t.Errorf("next attempt in %s, want %s", got, c.want)
			}
		})
	}
}

// A worker that dies while sending leaves its lease to lapse: then the
// delivery goes out, with the same webhook-id; nothing is lost.
func TestALapsedLeaseIsSentAgain(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, nil)
	e, secret := w.endpoint(t, rc.URL)
	rc.trust(secret)
	w.emit(t, 1)
	now := time.Now()
	// The worker that "crashed": it claimed the delivery and never recorded.
	crashed, err := w.app.ClaimDueWebhookDeliveries(context.Background(), "crashed", now, 10, 2, time.Minute)
	if err != nil || len(crashed) != 1 {
		t.Fatalf("claimed %v, %v", crashed, err)
	}
	clk := newClock(now.Add(30 * time.Second))
	start(t, w.app, loopback, webhookworker.WithClock(clk.now))
	time.Sleep(50 * time.Millisecond)
	if n := len(rc.got()); n != 0 {
		t.Fatalf("sent %d while another worker's lease held", n)
	}
	clk.set(now.Add(2 * time.Minute))
	waitFor(t, "the resend", func() bool { return len(rc.got()) == 1 })
	got := rc.got()[0]
	if got.id != crashed[0].MsgID || got.verified[0] != nil {
		t.Errorf("resent with id %q (claimed %q), verified %v", got.id, crashed[0].MsgID, got.verified[0])
	}
	waitFor(t, "success recorded", func() bool { return w.deliveries(t, e)[0].Status == models.DeliverySucceeded })
	// The crashed worker's late record changes nothing.
	out, err := w.app.RecordWebhookAttempt(context.Background(), crashed[0], models.WebhookAttemptResult{At: now, RetryIn: time.Second}, nil)
	if err != nil || out.Status != "" || w.deliveries(t, e)[0].Status != models.DeliverySucceeded {
		t.Errorf("late record: %+v, %v", out, err)
	}
}

// Two workers on one database never send the same delivery at once, and
// together send each exactly once when every attempt succeeds.
func TestTwoWorkersNeverSendTheSameAtOnce(t *testing.T) {
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("several workers are PostgreSQL's (SKIP LOCKED); SQLite runs one")
	}
	w := newWorld(t)
	var mu sync.Mutex
	inFlight, count := map[string]int{}, map[string]int{}
	overlap := false
	rc := newReceiver(t, nil)
	rc.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// One delivery is one message to one endpoint.
		id := r.URL.Path + " " + r.Header.Get(webhook.HeaderID)
		mu.Lock()
		inFlight[id]++
		count[id]++
		overlap = overlap || inFlight[id] > 1
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		inFlight[id]--
		mu.Unlock()
		rw.WriteHeader(http.StatusOK)
	})
	e, _ := w.endpoint(t, rc.URL)
	e2, _ := w.endpoint(t, rc.URL+"/second")
	const events = 30
	w.emit(t, events)
	start(t, w.app, loopback, webhookworker.WithID("one"), webhookworker.WithConcurrency(8, 4))
	start(t, w.app, loopback, webhookworker.WithID("two"), webhookworker.WithConcurrency(8, 4))
	waitFor(t, "every delivery", func() bool {
		n := 0
		for _, ep := range []*models.WebhookEndpoint{e, e2} {
			for _, d := range w.deliveries(t, ep) {
				if d.Status == models.DeliverySucceeded {
					n++
				}
			}
		}
		return n == 2*events
	})
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Error("one delivery was being sent twice at the same time")
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", id, n)
		}
	}
	if len(count) != 2*events {
		t.Errorf("%d deliveries received, want %d", len(count), 2*events)
	}
}

// A slow endpoint holds at most its share of the worker; another
// endpoint's deliveries go out meanwhile.
func TestASlowEndpointDelaysNoOther(t *testing.T) {
	w := newWorld(t)
	release := make(chan struct{})
	var slowInFlight, slowMax atomic.Int64
	slow := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
		n := slowInFlight.Add(1)
		for {
			m := slowMax.Load()
			if n <= m || slowMax.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		slowInFlight.Add(-1)
		return 200, nil, ""
	})
	defer close(release)
	fastRC := newReceiver(t, nil)
	slowEP, _ := w.endpoint(t, slow.URL)
	w.emit(t, 5) // to the slow endpoint only
	fastEP, _ := w.endpoint(t, fastRC.URL)
	start(t, w.app, loopback, webhookworker.WithConcurrency(4, 2))
	waitFor(t, "the slow endpoint to hold its two slots", func() bool { return slowInFlight.Load() == 2 })
	w.emit(t, 3) // to both
	waitFor(t, "the other endpoint's deliveries", func() bool {
		n := 0
		for _, d := range w.deliveries(t, fastEP) {
			if d.Status == models.DeliverySucceeded {
				n++
			}
		}
		return n == 3
	})
	if m := slowMax.Load(); m > 2 {
		t.Errorf("the slow endpoint had %d requests in flight, bound 2", m)
	}
	_ = slowEP
}

// An endpoint failing without a single success for five days is disabled.
func TestFiveDaysOfFailuresDisable(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) { return 500, nil, "" })
	e, _ := w.endpoint(t, rc.URL)
	w.emit(t, 1)
	at := time.Now().Add(time.Second)
	clk := newClock(at)
	long := []time.Duration{6 * 24 * time.Hour, time.Millisecond}
	start(t, w.app, loopback, webhookworker.WithClock(clk.now), webhookworker.WithSchedule(long))
	waitFor(t, "the first attempt", func() bool { return len(w.attempts(t, e)) == 1 })
	if ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID); !ep.Enabled || ep.FailingSince == nil {
		t.Fatalf("after a failure: %+v", ep)
	}
	clk.set(at.Add(6*24*time.Hour + time.Second))
	waitFor(t, "the endpoint to be disabled", func() bool {
		ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID)
		return !ep.Enabled
	})
	if ep, _ := w.owner.WebhookEndpointOf(context.Background(), w.acme, e.ID); !strings.Contains(ep.DisabledReason, "5 days") {
		t.Errorf("reason %q", ep.DisabledReason)
	}
}

// While a secret rotates, both sign: a receiver holding either verifies.
func TestRotatedSecretSignsAlongside(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, nil)
	e, old := w.endpoint(t, rc.URL)
	rotated, err := w.owner.RotateWebhookSecret(context.Background(), w.acme, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.trust(old, rotated, webhook.NewSecret())
	w.emit(t, 1)
	start(t, w.app, loopback)
	waitFor(t, "the delivery", func() bool { return len(rc.got()) == 1 })
	v := rc.got()[0].verified
	if v[0] != nil || v[1] != nil || v[2] == nil {
		t.Errorf("old secret %v, new secret %v, a stranger's %v", v[0], v[1], v[2])
	}
}

// Each refused class of address, the hostname localhost included, is
// refused on the connection dialled: nothing reaches the receiver.
func TestRefusesForbiddenAddresses(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, nil)
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	urls := map[string]string{
		"loopback":           "http://127.0.0.1:" + port + "/",
		"localhost resolves": "http://localhost:" + port + "/",
		"loopback v6":        "http://[::1]:" + port + "/",
		"private":            "http://10.0.0.1:" + port + "/",
		"link-local":         "http://169.254.169.254/latest/meta-data/",
		"shared":             "http://100.64.0.1/",
		"metadata":           "http://100.100.100.200/",
		"unspecified":        "http://0.0.0.0:" + port + "/",
		"multicast":          "http://239.1.2.3/",
	}
	endpoints := map[string]*models.WebhookEndpoint{}
	for class, url := range urls {
		endpoints[class], _ = w.endpoint(t, url)
	}
	w.emit(t, 1)
	start(t, w.app, netguard.Policy{}, webhookworker.WithSchedule(nil))
	for class, e := range endpoints {
		waitFor(t, class+" refused", func() bool { return len(w.attempts(t, e)) == 1 })
		if a := w.attempts(t, e)[0]; a.Succeeded || a.StatusCode != nil || !strings.HasPrefix(a.Error, "refused") {
			t.Errorf("%s (%s): %+v", class, urls[class], a)
		}
	}
	if n := len(rc.got()); n != 0 {
		t.Errorf("the receiver got %d requests", n)
	}
}

// The log keeps the first 4 KB of an answer, however long.
func TestResponseBodyIsBounded(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
		return 200, nil, strings.Repeat("é", 10000) // 20 000 bytes
	})
	e, _ := w.endpoint(t, rc.URL)
	w.emit(t, 1)
	start(t, w.app, loopback)
	waitFor(t, "the attempt", func() bool { return len(w.attempts(t, e)) == 1 })
	if got := len(w.attempts(t, e)[0].ResponseBody); got != 4096 {
		t.Errorf("kept %d bytes of the answer, want 4096", got)
	}
}

// Old attempts are pruned; so are old events that are no longer pending.
func TestPruneWebhookLog(t *testing.T) {
	w := newWorld(t)
	rc := newReceiver(t, nil)
	e, _ := w.endpoint(t, rc.URL)
	w.emit(t, 2)
	start(t, w.app, loopback)
	waitFor(t, "both deliveries", func() bool { return len(w.attempts(t, e)) == 2 })
	n, err := w.app.PruneWebhookLog(context.Background(), time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if got := w.deliveries(t, e); len(got) != 0 {
		t.Errorf("%d deliveries left", len(got))
	}
}
