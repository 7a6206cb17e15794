package handlers

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestDiscoveryProblem: failures the handler tests cannot bring about on
// this machine (DNS, a silent provider, an untrusted certificate) read as
// plainly as the others; the errors are the kinds the HTTP client returns.
func TestDiscoveryProblem(t *testing.T) {
	t.Parallel()
	const issuer = "https://login.acme.example"
	fetch := func(err error) error {
		return &url.Error{Op: "Get", URL: discoveryURL(issuer), Err: err}
	}

	// A provider that takes the connection and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	_, timeout := (&http.Client{Timeout: 50 * time.Millisecond}).Get("http://" + silent.Addr().String())
	if timeout == nil {
		t.Fatal("the silent provider answered")
	}

	// A provider whose certificate nobody here trusts.
	tlsServer := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsServer.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	tlsServer.StartTLS()
	t.Cleanup(tlsServer.Close)
	_, untrusted := http.Get(tlsServer.URL)
	if untrusted == nil {
		t.Fatal("the untrusted certificate was accepted")
	}

	cases := []struct {
		name string
		err  error
		want string
	}{
		{"no such host", fetch(&net.OpError{Op: "dial", Err: &net.DNSError{Name: "login.acme.example", Err: "no such host", IsNotFound: true}}),
			"Unreachable: login.acme.example does not exist in DNS."},
		{"DNS failing", fetch(&net.DNSError{Name: "login.acme.example", Err: "server misbehaving", IsTemporary: true}),
			"Unreachable: looking up login.acme.example in DNS failed."},
		{"deadline of the request", fetch(context.DeadlineExceeded), "Unreachable: login.acme.example did not answer within 10 seconds."},
		{"the client's timeout", timeout, "did not answer within 10 seconds."},
		{"untrusted certificate", untrusted, "Unreachable: the certificate of login.acme.example is not valid or not trusted."},
		{"certificate of another name", fetch(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "login.acme.example"}),
			"is not valid or not trusted"},
		{"answered another status", &discoveryStatusError{url: discoveryURL(issuer), status: "500 Internal Server Error"},
			"login.acme.example answered 500 Internal Server Error at https://login.acme.example/.well-known/openid-configuration instead of its discovery document."},
		{"anything else", fetch(errors.New("connection reset by peer")),
			"Unreachable: the discovery document at https://login.acme.example/.well-known/openid-configuration could not be fetched."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := discoveryProblem(issuer, c.err)
			if !strings.Contains(got, c.want) {
				t.Fatalf("%v\nreads %q\nwant %q", c.err, got, c.want)
			}
		})
	}
}

// TestDiscoveryBodyIsBounded: a provider answering with more than a
// discovery document could hold is cut off, not read whole.
func TestDiscoveryBodyIsBounded(t *testing.T) {
	t.Parallel()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer": %q, "padding": "`, issuer)
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 64; i++ { // 4 MiB
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
		}
		fmt.Fprint(w, `"}`)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	_, problem := checkDiscovery(context.Background(), providerAddresses{development: true}.transport(), issuer)
	if !strings.Contains(problem, "but not with a discovery document") {
		t.Fatalf("an oversized answer reads %q", problem)
	}
}

// An Admin's issuer cannot make the server fetch from a link-local address
// (a cloud's metadata service), however it is written.
func TestDiscoveryRefusesLinkLocalAddresses(t *testing.T) {
	for _, issuer := range []string{"http://169.254.169.254", "https://169.254.169.254/latest", "http://[fe80::1]:8080", "http://0.0.0.0:9"} {
		_, problem := checkDiscovery(context.Background(), providerAddresses{development: true}.transport(), issuer)
		if !strings.Contains(problem, "link-local") {
			t.Errorf("%s: %q, want a refusal of the address", issuer, problem)
		}
	}
}
