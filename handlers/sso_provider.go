package handlers

import (
	"context"
	"fmt"
	"net/http"
	"sync"
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
	return &ssoProviders{client: &http.Client{Timeout: ssoHTTPTimeout}, byURL: map[string]cachedProvider{}}
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
	fetchCtx, cancel := context.WithTimeout(ctx, ssoHTTPTimeout)
	defer cancel()
	provider, err := oidc.NewProvider(p.context(fetchCtx), issuer)
	if err != nil {
		return nil, fmt.Errorf("discover identity provider %s: %w", issuer, err)
	}
	p.mu.Lock()
	p.byURL[issuer] = cachedProvider{provider: provider, fetchedAt: now}
	p.mu.Unlock()
	return provider, nil
}
