package handlers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// ssoHTTPTimeout bounds every call Canopy makes to an identity provider:
// its discovery document, its keys and the code exchange.
const ssoHTTPTimeout = 10 * time.Second

// ssoProviderTTL is how long a provider's discovery document is reused
// before it is fetched again: sign-ins need not pay a round trip each, and
// a provider's moved endpoints are picked up within minutes.
const ssoProviderTTL = 5 * time.Minute

// ssoProviders caches identity providers by issuer. go-oidc's provider
// also caches the provider's signing keys, refetching them when a token is
// signed with a key it has not seen (a key rotation).
type ssoProviders struct {
	client *http.Client
	mu     sync.Mutex
	byURL  map[string]cachedProvider
}

type cachedProvider struct {
	provider  *oidc.Provider
	fetchedAt time.Time
}

func newSSOProviders() *ssoProviders {
	return &ssoProviders{client: &http.Client{Timeout: ssoHTTPTimeout, Transport: identityProviderTransport}, byURL: map[string]cachedProvider{}}
}

// identityProviderTransport is how Canopy reaches identity providers. An
// Admin chooses the address, so the server must not become their way to
// addresses only it can reach: link-local ones (a cloud's metadata service
// at 169.254.169.254 hands out credentials) and unspecified ones are
// refused whatever name leads there. Private networks stay allowed: a
// company's own identity provider may well be on one, next to Canopy.
var identityProviderTransport = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: ssoHTTPTimeout, Control: refuseLinkLocal}).DialContext
	return t
}()

// errForbiddenAddress is a connection refused before it was made.
var errForbiddenAddress = errors.New("the address is link-local or unspecified, which Canopy does not connect to")

func refuseLinkLocal(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("connect to %s: %w", address, errForbiddenAddress)
	}
	return nil
}

// context carries the HTTP client go-oidc and x/oauth2 use for calls to
// identity providers.
func (p *ssoProviders) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}

// get is the provider of an issuer, from the cache while it is fresh. The
// discovery document must name this very issuer (go-oidc checks it).
func (p *ssoProviders) get(ctx context.Context, issuer string, now time.Time) (*oidc.Provider, error) {
	p.mu.Lock()
	cached, ok := p.byURL[issuer]
	p.mu.Unlock()
	if ok && now.Sub(cached.fetchedAt) < ssoProviderTTL {
		return cached.provider, nil
	}
	provider, err := discoverProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discover identity provider %s: %w", issuer, err)
	}
	p.mu.Lock()
	p.byURL[issuer] = cachedProvider{provider: provider, fetchedAt: now}
	p.mu.Unlock()
	return provider, nil
}
