package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport dials the server for every host name. Tenants live at
// <sub>.localhost:port; rather than rely on the resolver mapping *.localhost
// to loopback, every connection goes to the server's address and the Host
// header (taken from the URL) says which tenant is meant.
func newTransport(addr string, conns int) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "tcp", addr)
		},
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: conns, // one kept-alive connection per virtual client, like a browser
		IdleConnTimeout:     90 * time.Second,
	}
}

// session is one user signed in through the real sign-in flow: its cookies,
// the hosts that set them, and the page it landed on.
type session struct {
	email   string
	jar     *cookiejar.Jar
	hosts   []string // every host visited while signing in
	landing *url.URL // the company Home it ended on
	body    string   // that Home page
}

var (
	csrfRe     = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	templateRe = regexp.MustCompile(`(?s)name="template_id".*?<option[^>]* value="(\d+)"`)
	goRe       = regexp.MustCompile(`href="/go/([a-z0-9-]+)"`)
)

// signIn signs email in the way a browser does: the sign-in form for its
// CSRF token, the form post, then every hand-off redirect to the company's
// Home. tenant empty means wherever the user lands.
func signIn(ctx context.Context, tr http.RoundTripper, baseURL, email, password, tenant string) (*session, error) {
	jar, _ := cookiejar.New(nil)
	s := &session{email: email, jar: jar}
	seen := map[string]bool{}
	visit := func(u *url.URL) {
		if !seen[u.Host] {
			seen[u.Host] = true
			s.hosts = append(s.hosts, u.Host)
		}
	}
	hc := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			visit(req.URL)
			if len(via) > 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		}}
	loginURL := baseURL + "/login?" + url.Values{"tenant": {tenant}}.Encode()
	u, _ := url.Parse(loginURL)
	visit(u)
	_, body, err := fetch(ctx, hc, http.MethodGet, loginURL, nil)
	if err != nil {
		return nil, err
	}
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("GET /login: no CSRF token on the sign-in page")
	}
	form := url.Values{"_csrf": {m[1]}, "email": {email}, "password": {password}, "tenant": {tenant}}
	res, body, err := fetch(ctx, hc, http.MethodPost, baseURL+"/login", form)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/" || !strings.Contains(res.Request.URL.Host, ".") {
		return nil, fmt.Errorf("sign in as %s: ended at %s with %s, not at a company's Home (wrong password? not a member of %q?)",
			email, res.Request.URL, res.Status, tenant)
	}
	s.landing, s.body = res.Request.URL, body
	return s, nil
}

// fetch sends one request, reads the whole body (so the connection is
// reused) and returns the final response.
func fetch(ctx context.Context, hc *http.Client, method, target string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, string(b), err
}

// subdomainOf is the tenant part of a host like acme.localhost:8080.
func subdomainOf(host string) string {
	sub, _, _ := strings.Cut(host, ".")
	return sub
}

// vclient is one virtual client: a browser tab of a signed-in user.
type vclient struct {
	// follow keeps its own cookie jar up to date and follows redirects, for
	// the company switch, whose hand-off sets new cookies on the way.
	follow *http.Client
	// fixed neither follows redirects nor stores cookies: a page is measured
	// alone, and the flash an order leaves is not piled into the cookie.
	fixed *http.Client
	jar   *cookiejar.Jar

	baseURL    string
	csrf       string // for posts at host
	templateID string
	here       string // company switch: the company this client is in
	there      string // and the one it goes to next
}

// newClient gives a virtual client a copy of s's cookies. Sign-in costs an
// argon2id hash (about 19 MiB and tens of milliseconds) and is rate-limited
// per email, so each user signs in once and its 32 clients share the same
// session cookies from then on, each in its own jar. Sessions live in the
// cookie alone, so to the server this is 32 browsers signed in as one user.
func newClient(s *session, tr http.RoundTripper, baseURL string) *vclient {
	jar, _ := cookiejar.New(nil)
	for _, host := range s.hosts {
		u := &url.URL{Scheme: "http", Host: host, Path: "/"}
		cookies := s.jar.Cookies(u) // the cookies of path "/": the session
		for _, c := range cookies {
			c.Path = "/"
		}
		jar.SetCookies(u, cookies)
	}
	return (&vclient{jar: jar, baseURL: baseURL}).via(tr)
}

// via is the same client (cookies, state) sending its requests through tr.
func (c *vclient) via(tr http.RoundTripper) *vclient {
	clone := *c
	clone.follow = &http.Client{Jar: c.jar, Transport: tr, Timeout: 30 * time.Second}
	clone.fixed = &http.Client{Transport: cookieHeader{c.jar, tr}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &clone
}

// cookieHeader sends a jar's cookies without letting responses change them.
type cookieHeader struct {
	jar http.CookieJar
	tr  http.RoundTripper
}

func (c cookieHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for _, ck := range c.jar.Cookies(req.URL) {
		req.AddCookie(ck)
	}
	return c.tr.RoundTrip(req)
}

// tenantURL is path at a tenant's host.
func (c *vclient) tenantURL(sub, path string) string {
	u, _ := url.Parse(c.baseURL)
	u.Host = sub + "." + u.Host
	return u.String() + path
}

// expect checks one response: the status a working page answers with, and
// for the company switch the host it must end on.
func expect(res *http.Response, err error, status int) error {
	if err != nil {
		return err
	}
	if res.StatusCode != status {
		return fmt.Errorf("%s %s: %s, want %d", res.Request.Method, res.Request.URL, res.Status, status)
	}
	return nil
}

// scenario is one row of the table: a request (or chain) every virtual
// client repeats.
type scenario struct {
	name    string
	request string // what one sample is, for the table
	page    bool   // held to the page targets (not /healthz)
	clients []*vclient
	do      func(ctx context.Context, c *vclient) error
}

func getPage(host, path string) func(context.Context, *vclient) error {
	return func(ctx context.Context, c *vclient) error {
		target := c.baseURL + path
		if host != "" {
			target = c.tenantURL(host, path)
		}
		res, _, err := fetch(ctx, c.fixed, http.MethodGet, target, nil)
		return expect(res, err, http.StatusOK)
	}
}

// createOrder posts the Create order form; success is the 303 to /orders.
func createOrder(host string) func(context.Context, *vclient) error {
	var n atomic.Int64
	return func(ctx context.Context, c *vclient) error {
		i := n.Add(1)
		form := url.Values{
			"_csrf":           {c.csrf},
			"template_id":     {c.templateID},
			"applicant_name":  {fmt.Sprintf("Bench Applicant %d", i)},
			"applicant_email": {fmt.Sprintf("applicant%d@bench.test", i)},
			"reference":       {fmt.Sprintf("BENCH-%d-%d", time.Now().Unix(), i)},
		}
		res, _, err := fetch(ctx, c.fixed, http.MethodPost, c.tenantURL(host, "/orders"), form)
		if err == nil && res.StatusCode == http.StatusSeeOther && res.Header.Get("Location") != "/orders" {
			return fmt.Errorf("POST /orders: sent to %s, want /orders", res.Header.Get("Location"))
		}
		return expect(res, err, http.StatusSeeOther)
	}
}

// switchCompany is the toggle's choice: from the current company's host,
// /go/<other> and every hand-off redirect to the other company's Home, as
// one sample. The next sample switches back.
func switchCompany(ctx context.Context, c *vclient) error {
	res, _, err := fetch(ctx, c.follow, http.MethodGet, c.tenantURL(c.here, "/go/"+c.there), nil)
	if err := expect(res, err, http.StatusOK); err != nil {
		return err
	}
	if got := subdomainOf(res.Request.URL.Host); got != c.there || res.Request.URL.Path != "/" {
		return fmt.Errorf("switch to %s ended at %s", c.there, res.Request.URL)
	}
	c.here, c.there = c.there, c.here
	return nil
}

// result is one scenario's row.
type result struct {
	scenario
	summary
	maxRSS int64  // the server's largest resident set seen during it
	cpu    cpuUse // cores used while measuring
	// CPU seconds spent by the server process and by the database's
	// backends while measuring; pgOK is false when Postgres's could not be
	// read (not on this machine).
	serverCPU, pgCPU float64
	pgOK             bool
	newConns         int64  // database connections opened during the scenario, warm-up included
	firstErr         string // the first error, to say what went wrong
}

// run lets every client of sc repeat its request, back to back, for warmup
// plus duration. A sample counts when it finishes after the warm-up; one
// still running at the end is waited for and counted in the latencies (the
// slowest must not escape), but not in requests/s.
func run(ctx context.Context, sc scenario, warmup, duration time.Duration, rss *rssSampler, pg *pgCPU) result {
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+duration)
	var (
		mu              sync.Mutex
		all             []time.Duration
		completed, errs int
		firstErr        string
		wg              sync.WaitGroup
	)
	rss.reset()
	cpuAtStart := make(chan cpuSnapshot, 1)
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	time.AfterFunc(warmup, func() {
		pg.begin(sampling)
		cpuAtStart <- takeCPU(rss.srv.cmd.Process.Pid)
	})
	for _, c := range sc.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myCompleted, myErrs int
			var myFirst string
			for {
				t0 := time.Now()
				if !t0.Before(end) || ctx.Err() != nil {
					break
				}
				err := sc.do(ctx, c)
				t1 := time.Now()
				if t1.Before(measureFrom) {
					continue
				}
				mine = append(mine, t1.Sub(t0))
				if !t1.After(end) {
					myCompleted++
				}
				if err != nil {
					myErrs++
					if myFirst == "" {
						myFirst = err.Error()
					}
				}
			}
			mu.Lock()
			all = append(all, mine...)
			completed += myCompleted
			errs += myErrs
			if firstErr == "" {
				firstErr = myFirst
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	first, last := <-cpuAtStart, takeCPU(rss.srv.cmd.Process.Pid)
	pgSeconds, pgOK := pg.end(ctx)
	stopSampling()
	return result{scenario: sc, summary: summarize(all, completed, errs, duration), maxRSS: rss.max(), cpu: cpuBetween(first, last),
		serverCPU: last.server - first.server, pgCPU: pgSeconds, pgOK: pgOK, firstErr: firstErr}
}

// rssSampler reads the server's resident memory ten times a second.
type rssSampler struct {
	srv  *server
	peak atomic.Int64 // largest VmRSS since the last reset
}

func (r *rssSampler) start(ctx context.Context) {
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if rss, _, err := r.srv.memory(); err == nil {
				for {
					old := r.peak.Load()
					if rss <= old || r.peak.CompareAndSwap(old, rss) {
						break
					}
				}
			}
		}
	}()
}

func (r *rssSampler) reset() {
	rss, _, _ := r.srv.memory()
	r.peak.Store(rss)
}

func (r *rssSampler) max() int64 { return r.peak.Load() }
