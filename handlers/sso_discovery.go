package handlers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discoveryTimeout bounds one fetch of an identity provider's discovery
// document: a provider that does not answer is reported as such instead of
// holding the request (on Postgres, its transaction) open.
const discoveryTimeout = 10 * time.Second

// maxDiscoveryBody is the most read of the answer: a discovery document is
// a few kilobytes, and go-oidc reads whatever it is given.
const maxDiscoveryBody = 1 << 20

// discoveryStatusError is a provider answering the discovery request with
// another status than 200: go-oidc's own error carries the body, which may
// be anything and must not reach a page.
type discoveryStatusError struct {
	url    string
	status string
}

func (e *discoveryStatusError) Error() string {
	return fmt.Sprintf("discovery document at %s: %s", e.url, e.status)
}

// discoveryTransport notes the status of the last answer and cuts its body
// at maxDiscoveryBody. The provider keeps it for fetching keys later, maybe
// from several requests at once: hence the lock.
type discoveryTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	status string
	code   int
}

func (t *discoveryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.status, t.code = res.Status, res.StatusCode
	t.mu.Unlock()
	res.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(res.Body, maxDiscoveryBody), res.Body}
	return res, nil
}

// discoveryURL is where an issuer's discovery document is.
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// discoverProvider fetches the issuer's discovery document with go-oidc,
// within discoveryTimeout, and returns the provider it describes. go-oidc
// refuses a document naming another issuer (*oidc.IssuerMismatchError); an
// answer other than 200 is a *discoveryStatusError. The provider keeps the
// client, bounded the same way, for fetching its keys later.
func discoverProvider(ctx context.Context, base http.RoundTripper, issuer string) (*oidc.Provider, error) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	transport := &discoveryTransport{base: base}
	client := &http.Client{Timeout: discoveryTimeout, Transport: transport}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		transport.mu.Lock()
		code, status := transport.code, transport.status
		transport.mu.Unlock()
		if code != 0 && code != http.StatusOK {
			return nil, &discoveryStatusError{url: discoveryURL(issuer), status: status}
		}
		return nil, err
	}
	return provider, nil
}

// DiscoveryResult is what an issuer's discovery document says, as far as
// signing people in needs it.
type DiscoveryResult struct {
	Issuer   string // as the document names it
	AuthURL  string // where people are sent to sign in
	TokenURL string
	JWKSURL  string // the keys ID tokens are signed with
}

// checkDiscovery fetches the issuer's discovery document and says plainly
// what stands in the way of signing in with it: "" when nothing does.
func checkDiscovery(ctx context.Context, base http.RoundTripper, issuer string) (DiscoveryResult, string) {
	provider, err := discoverProvider(ctx, base, issuer)
	if err != nil {
		return DiscoveryResult{}, discoveryProblem(issuer, err)
	}
	var claims struct {
		Issuer  string `json:"issuer"`
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&claims); err != nil {
		return DiscoveryResult{}, fmt.Sprintf("%s answered at %s, but not with a discovery document.", hostOf(issuer), discoveryURL(issuer))
	}
	endpoint := provider.Endpoint()
	res := DiscoveryResult{Issuer: claims.Issuer, AuthURL: endpoint.AuthURL, TokenURL: endpoint.TokenURL, JWKSURL: claims.JWKSURL}
	var missing []string
	for _, field := range []struct{ name, value string }{
		{"authorization_endpoint", res.AuthURL}, {"token_endpoint", res.TokenURL}, {"jwks_uri", res.JWKSURL},
	} {
		if field.value == "" {
			missing = append(missing, field.name)
		}
	}
	if len(missing) > 0 {
		return res, fmt.Sprintf("The discovery document at %s has no %s: Canopy needs it to sign people in. Check the identity provider's setup.",
			discoveryURL(issuer), strings.Join(missing, ", no "))
	}
	return res, ""
}

// discoveryProblem is a failed fetch as the person who typed the issuer
// can act on it.
func discoveryProblem(issuer string, err error) string {
	host := hostOf(issuer)
	var mismatch *oidc.IssuerMismatchError
	var status *discoveryStatusError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var netErr net.Error
	switch {
	case errors.As(err, &mismatch):
		return fmt.Sprintf("Wrong issuer: the discovery document at %s says its issuer is %q, not %q. Enter the issuer URL exactly as the document names it.",
			discoveryURL(issuer), mismatch.Discovered, issuer)
	case errors.As(err, &status):
		if strings.HasPrefix(status.status, "404") {
			return fmt.Sprintf("%s answered 404 Not Found at %s: there is no discovery document there. Check the issuer URL.", host, status.url)
		}
		return fmt.Sprintf("%s answered %s at %s instead of its discovery document.", host, status.status, status.url)
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return fmt.Sprintf("Unreachable: %s does not exist in DNS. Check the issuer URL.", dnsErr.Name)
		}
		return fmt.Sprintf("Unreachable: looking up %s in DNS failed. Try again later.", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("Unreachable: %s refused the connection. Check the issuer URL and that the identity provider is running.", host)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("Unreachable: %s did not answer within %d seconds.", host, int(discoveryTimeout/time.Second))
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &invalidCert):
		return fmt.Sprintf("Unreachable: the certificate of %s is not valid or not trusted.", host)
	case errors.Is(err, errForbiddenAddress):
		return fmt.Sprintf("Unreachable: %s leads to an address Canopy does not connect to (link-local, or private where the operator has not allowed it: CANOPY_SSO_PRIVATE_NETWORKS).", host)
	case strings.Contains(err.Error(), "failed to decode provider discovery object"):
		return fmt.Sprintf("%s answered at %s, but not with a discovery document.", host, discoveryURL(issuer))
	}
	return fmt.Sprintf("Unreachable: the discovery document at %s could not be fetched.", discoveryURL(issuer))
}

// hostOf is the host (and port) an issuer URL names.
func hostOf(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return issuer
}
