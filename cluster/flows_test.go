package cluster

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"canopy/internal/webhook"
	"canopy/migrations"
)

// scenarioMigrations: three instances started together on an empty
// database migrate it exactly once (goose's advisory lock), then the demo
// data is loaded once, as the owner.
func scenarioMigrations(t *testing.T, c *cluster) {
	fsys, err := migrations.For("postgres")
	if err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	began := time.Now()
	for _, in := range c.instances {
		c.start(t, in)
	}
	for _, in := range c.instances {
		c.waitReady(t, in)
	}
	logf(t, "a: %d instances started together on an empty database, all ready in %s", len(c.instances), time.Since(began).Round(time.Millisecond))

	rows := c.pg.queryInt(t, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`)
	distinct := c.pg.queryInt(t, `SELECT count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`)
	if rows != len(files) || distinct != len(files) {
		t.Fatalf("goose_db_version has %d rows of %d versions, want each of the %d migrations once", rows, distinct, len(files))
	}
	applied := map[string]int{}
	total := 0
	for _, in := range c.instances {
		data, err := os.ReadFile(in.logPath)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(data), `msg="migration applied"`)
		applied[in.name] = n
		total += n
	}
	if total != len(files) {
		t.Fatalf("the instances' logs show %d migrations applied in total (%v), want %d", total, applied, len(files))
	}
	logf(t, "a: migrations: %d versions recorded once each; applied per instance %v (total %d)", distinct, applied, total)

	// The demo data, once, as the owner: seeding is the owner's job like
	// migrating.
	seed := exec.Command(c.bin, "seed", "--demo")
	seed.Env = c.env("127.0.0.1:0", t.TempDir(), c.pg.url(ownerRole), "")
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("canopy seed --demo: %v\n%s", err, out)
	}
	// The demo's webhook endpoint points at the development receiver's
	// fixed port; the test's receiver verifies with the same published
	// secret at an address of its own.
	devURL := "http://" + webhook.DevReceiverAddr + webhook.DevReceiverPath
	if n := c.pg.exec(t, `UPDATE webhook_endpoints SET url = $1 WHERE url = $2`, c.hooks.url, devURL); n != 1 {
		t.Fatalf("pointed %d webhook endpoints at the test's receiver, want the demo's one", n)
	}
	tenants := c.pg.queryInt(t, `SELECT count(*) FROM tenants`)
	logf(t, "a: demo data loaded once (%d tenants); the demo endpoint delivers to %s", tenants, c.hooks.url)
}

// servedLog is the order in which instances answered the flow's requests:
// every request of the flow, whichever browser sent it.
type servedLog struct {
	mu    sync.Mutex
	order []string
}

func (l *servedLog) add(browsers ...*browser) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range browsers {
		l.order = append(l.order, b.takeServed()...)
	}
}

// scenarioFlows: sign-in and its hand-off, the company switch, an
// invitation and a sub-tenant, each request answered by another instance
// than the one before.
func scenarioFlows(t *testing.T, c *cluster) {
	checkFlows(t, c, "b")
}

// checkFlows runs the flows; label names the scenario in its report.
func checkFlows(t *testing.T, c *cluster, label string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var served servedLog
	// want checks an answer: its status and what its page says.
	want := func(status int, texts ...string) func(page, error) page {
		return func(p page, err error) page {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", label, err)
			}
			if p.status != status {
				t.Fatalf("%s: %s, want %d:\n%s", label, p, status, excerpt(p.body))
			}
			for _, w := range texts {
				if !strings.Contains(p.body, w) {
					t.Fatalf("%s: %s lacks %q:\n%s", label, p, w, excerpt(p.body))
				}
			}
			return p
		}
	}
	// Each step runs alone, so the balancer's round robin answers it
	// instance after instance; the check is on the whole sequence.
	step := func(browsers ...*browser) { served.add(browsers...) }

	// Sign-in at the base domain and the hand-off to Acme's subdomain.
	alice := c.browser()
	home := want(http.StatusOK, "Acme Corp")(alice.signIn(ctx, "alice@acme.test", demoPassword, "acme"))
	step(alice)

	// The company switch through the toggle, to Globex and back.
	if !strings.Contains(home.body, `href="/go/globex"`) {
		t.Fatalf("%s: Acme's Home has no toggle entry for Globex:\n%s", label, excerpt(home.body))
	}
	globex := want(http.StatusOK, "Globex")(alice.follow(alice.get(ctx, alice.tenantURL("acme", "/go/globex"))))
	if !strings.HasPrefix(globex.url, alice.tenantURL("globex", "/")) {
		t.Fatalf("%s: the switch to Globex ended at %s", label, globex)
	}
	back := want(http.StatusOK, "Acme Corp")(alice.follow(alice.get(ctx, alice.tenantURL("globex", "/go/acme"))))
	if !strings.HasPrefix(back.url, alice.tenantURL("acme", "/")) {
		t.Fatalf("%s: the switch back to Acme ended at %s", label, back)
	}
	step(alice)

	// An invitation sent, received by mail and accepted by a newcomer.
	n := c.unique()
	invitee := fmt.Sprintf("invitee-%s-%d@cluster.test", label, n)
	want(http.StatusSeeOther)(alice.submit(ctx, alice.tenantURL("acme", "/settings/team/new"), alice.tenantURL("acme", "/settings/team"),
		url.Values{"first_name": {"Ina"}, "last_name": {"Vite"}, "email": {invitee}, "role": {"viewer"}}))
	link := c.invitationLink(t, invitee)
	newcomer := c.browser()
	want(http.StatusOK, "Join Acme Corp")(newcomer.get(ctx, link))
	landed := want(http.StatusOK, "Welcome to Acme Corp")(newcomer.follow(newcomer.submit(ctx, link, link+"/accept", url.Values{
		"first_name": {"Ina"}, "last_name": {"Vite"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}})))
	if !strings.HasPrefix(landed.url, newcomer.tenantURL("acme", "/")) {
		t.Fatalf("%s: the invitee landed at %s", label, landed)
	}
	step(alice, newcomer)

	// A sub-tenant created by a Super Admin; its owner accepts and enters
	// it on its own subdomain.
	sub := fmt.Sprintf("cluster-%s-%d", strings.ToLower(label), n)
	owner := fmt.Sprintf("owner-%s@cluster.test", sub)
	want(http.StatusSeeOther)(alice.submit(ctx, alice.tenantURL("acme", "/sub-tenants/new"), alice.tenantURL("acme", "/sub-tenants"), url.Values{
		"name": {"Cluster " + sub}, "subdomain": {sub}, "description": {"Made by the cluster test"},
		"email": {owner}, "timezone": {"Europe/Berlin"}, "confirmed": {"yes"}}))
	ownerLink := c.invitationLink(t, owner)
	ownerBrowser := c.browser()
	entered := want(http.StatusOK, "Cluster "+sub)(ownerBrowser.follow(ownerBrowser.submit(ctx, ownerLink, ownerLink+"/accept", url.Values{
		"first_name": {"Olga"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}})))
	if !strings.HasPrefix(entered.url, ownerBrowser.tenantURL(sub, "/")) {
		t.Fatalf("%s: the sub-tenant's owner landed at %s, not on %s's subdomain", label, entered, sub)
	}
	want(http.StatusOK)(ownerBrowser.get(ctx, ownerBrowser.tenantURL(sub, "/devices")))
	step(alice, ownerBrowser)

	counts := map[string]int{}
	same := 0
	for i, name := range served.order {
		if name == "" {
			t.Fatalf("%s: answer %d of the flow has no X-Served-By", label, i)
		}
		counts[name]++
		if i > 0 && served.order[i-1] == name {
			same++
		}
	}
	if len(counts) != len(c.instances) || same > 0 {
		t.Fatalf("%s: consecutive requests were not spread over the instances: %d of %d followed one by the same instance; %v\norder: %v",
			label, same, len(served.order), counts, served.order)
	}
	logf(t, "%s: flows (sign-in + hand-off, switch, invitation, sub-tenant %s): %d requests, 0 failures, answered by %v, never twice in a row by one instance",
		label, sub, len(served.order), counts)
}

// demoPassword is every demo person's password.
const demoPassword = "demo-password"

var invitationLinkRe = regexp.MustCompile(`http://localhost:\d+/invitations/[A-Za-z0-9_-]+`)

// invitationLink waits for the invitation mailed to address and returns
// its link.
func (c *cluster) invitationLink(t *testing.T, address string) string {
	t.Helper()
	m := c.waitMail(t, address)
	link := invitationLinkRe.FindString(m.body)
	if link == "" {
		t.Fatalf("the mail to %s has no invitation link:\n%s", address, m.body)
	}
	if !strings.HasPrefix(link, c.base+"/") {
		t.Fatalf("the invitation link %s is not on the base URL %s", link, c.base)
	}
	return link
}
