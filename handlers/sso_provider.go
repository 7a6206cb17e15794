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

	"canopy/internal/netguard"

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
	transport http.RoundTripper
	client    *http.Client
	mu        sync.Mutex
	byURL     map[string]cachedProvider
	failedAt  map[string]time.Time // issuers whose discovery failed lately
	busy      map[string]int       // calls in flight to each issuer
}

// A provider that does not answer must not hold many requests (on
// Postgres, their transactions and pooled connections) waiting: at most
// maxCallsPerIssuer calls to one issuer are in flight, and after a failed
// discovery the next ones fail at once for a while.
const (
	maxCallsPerIssuer = 2
	failureMemory     = 30 * time.Second
)

// errProviderBusy is a call not made because others to the same provider
// are still waiting, or its discovery failed a moment ago.
var errProviderBusy = errors.New("identity provider busy or failing")

// acquire reserves one call to issuer, or says it must not be made now.
func (p *ssoProviders) acquire(issuer string, now time.Time) (release func(), err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if failed, ok := p.failedAt[issuer]; ok && now.Sub(failed) < failureMemory {
		return nil, errProviderBusy
	}
	if p.busy[issuer] >= maxCallsPerIssuer {
		return nil, errProviderBusy
	}
	p.busy[issuer]++
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.busy[issuer]--; p.busy[issuer] <= 0 {
			delete(p.busy, issuer)
		}
	}, nil
}

type cachedProvider struct {
	provider  *oidc.Provider
	fetchedAt time.Time
}

func newSSOProviders(addresses providerAddresses) *ssoProviders {
	transport := addresses.transport()
	return &ssoProviders{transport: transport, client: &http.Client{Timeout: ssoHTTPTimeout, Transport: transport},
		byURL: map[string]cachedProvider{}, failedAt: map[string]time.Time{}, busy: map[string]int{}}
}

// providerAddresses decides which addresses Canopy may connect to for an
// identity provider. An Admin chooses the issuer, and the document it
// serves names the other endpoints, so the server must not become their
// way to addresses only it can reach: link-local (a cloud's metadata
// service hands out credentials there), unspecified and multicast ones
// never; loopback, private and shared (100.64/10) ones only on a
// development server, or in the networks the operator allows for an
// intranet's own provider. The policy itself is internal/netguard's,
// shared with webhook delivery.
type providerAddresses struct {
	development bool
	allowed     []*net.IPNet
}

// errForbiddenAddress is a connection refused before it was made.
var errForbiddenAddress = netguard.ErrForbidden

func (p providerAddresses) policy() netguard.Policy {
	return netguard.Policy{AllowPrivate: p.development, Allowed: p.allowed}
}

func (p providerAddresses) check(network, address string, conn syscall.RawConn) error {
	return p.policy().Check(network, address, conn)
}

// transport is how Canopy reaches identity providers: directly (a proxy
// would hide the address checked), to the addresses check allows.
func (p providerAddresses) transport() *http.Transport {
	return p.policy().Transport(ssoHTTPTimeout)
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
	release, err := p.acquire(issuer, now)
	if err != nil {
		return nil, fmt.Errorf("discover identity provider %s: %w", issuer, err)
	}
	defer release()
	provider, err := discoverProvider(ctx, p.transport, issuer)
	if err != nil {
		p.mu.Lock()
		p.failedAt[issuer] = now
		p.mu.Unlock()
		return nil, fmt.Errorf("discover identity provider %s: %w", issuer, err)
	}
	p.mu.Lock()
	p.byURL[issuer] = cachedProvider{provider: provider, fetchedAt: now}
	delete(p.failedAt, issuer)
	p.mu.Unlock()
	return provider, nil
}
