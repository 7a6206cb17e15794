package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// browser is one person's browser talking to the balancer: its own cookie
// jar, every host name (acme.localhost:port, …) dialled at the balancer's
// address, redirects not followed unless asked, so each hop is seen.
type browser struct {
	base   string // http://localhost:<balancer port>
	client *http.Client
	mu     sync.Mutex
	served []string // X-Served-By of each answer, in order
}

func newBrowser(base, dialAddr string) *browser {
	jar, _ := cookiejar.New(nil)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, dialAddr)
		},
		MaxIdleConnsPerHost: 4,
	}
	return &browser{base: base, client: &http.Client{
		Jar: jar, Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is one answer, read whole.
type page struct {
	method, url string
	status      int
	body        string
	location    string
	servedBy    string
	header      http.Header
}

func (p page) String() string {
	return fmt.Sprintf("%s %s → %d (served by %q)", p.method, p.url, p.status, p.servedBy)
}

// do sends one request; an error is a request that got no answer.
func (b *browser) do(ctx context.Context, method, target string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.client.Do(req)
	if err != nil {
		return page{method: method, url: target}, fmt.Errorf("%s %s: %w", method, target, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	p := page{method: method, url: target, status: res.StatusCode, body: string(data),
		location: res.Header.Get("Location"), servedBy: res.Header.Get("X-Served-By"), header: res.Header}
	if err != nil {
		return p, fmt.Errorf("%s %s: reading the answer: %w", method, target, err)
	}
	b.mu.Lock()
	b.served = append(b.served, p.servedBy)
	b.mu.Unlock()
	return p, nil
}

func (b *browser) get(ctx context.Context, target string) (page, error) {
	return b.do(ctx, http.MethodGet, target, nil)
}

// follow goes through redirects like a browser, up to ten (each request
// bounded by the client's timeout).
func (b *browser) follow(p page, err error) (page, error) {
	ctx := context.Background()
	for i := 0; err == nil && i < 10 && p.status >= 300 && p.status < 400; i++ {
		from, perr := url.Parse(p.url)
		if perr != nil {
			return p, perr
		}
		to, perr := url.Parse(p.location)
		if perr != nil {
			return p, perr
		}
		p, err = b.get(ctx, from.ResolveReference(to).String())
	}
	return p, err
}

// servedBy is the instances that answered, in order, since the last call.
func (b *browser) takeServed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.served
	b.served = nil
	return out
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// csrf reads the form token on the page at pageURL (after its redirects).
func (b *browser) csrf(ctx context.Context, pageURL string) (string, error) {
	p, err := b.follow(b.get(ctx, pageURL))
	if err != nil {
		return "", err
	}
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		return "", fmt.Errorf("no form token on %s", p)
	}
	return m[1], nil
}

// submit posts form with the token of the page at pageURL, as a person
// filling in that page would, and returns the answer (not followed).
func (b *browser) submit(ctx context.Context, pageURL, action string, form url.Values) (page, error) {
	token, err := b.csrf(ctx, pageURL)
	if err != nil {
		return page{}, err
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", token)
	return b.do(ctx, http.MethodPost, action, form)
}

// tenantURL is path at a tenant's subdomain of the base URL.
func (b *browser) tenantURL(sub, path string) string {
	u, _ := url.Parse(b.base)
	u.Host = sub + "." + u.Host
	return u.String() + path
}

// signIn signs in at the base domain, continuing to the company sub, and
// returns the company's Home it lands on after the hand-off.
func (b *browser) signIn(ctx context.Context, email, password, sub string) (page, error) {
	form := url.Values{"email": {email}, "password": {password}, "tenant": {sub}}
	home, err := b.follow(b.submit(ctx, b.base+"/login?tenant="+sub, b.base+"/login", form))
	if err != nil {
		return home, err
	}
	if home.status != http.StatusOK || !strings.HasPrefix(home.url, b.tenantURL(sub, "/")) {
		return home, fmt.Errorf("sign in as %s ended at %s, not %s's Home:\n%s", email, home, sub, excerpt(home.body))
	}
	return home, nil
}

// excerpt is the start of a page, for failure messages.
func excerpt(body string) string {
	if len(body) > 600 {
		return body[:600] + "…"
	}
	return body
}
