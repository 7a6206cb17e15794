package handlers

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestProviderAddresses(t *testing.T) {
	_, intranet, _ := net.ParseCIDR("10.20.0.0/16")
	production := providerAddresses{}
	withIntranet := providerAddresses{allowed: []*net.IPNet{intranet}}
	development := providerAddresses{development: true}
	cases := []struct {
		address string
		policy  providerAddresses
		allowed bool
	}{
		{"93.184.216.34:443", production, true},
		{"[2606:2800:220:1::]:443", production, true},
		{"169.254.169.254:80", production, false},  // a cloud's metadata service
		{"169.254.169.254:80", development, false}, // never, even in development
		{"[fe80::1]:80", development, false},       // link-local
		{"0.0.0.0:80", development, false},         // unspecified
		{"100.100.100.200:80", production, false},  // shared address space (a metadata service too)
		{"[fd00:ec2::254]:80", production, false},  // unique local (AWS's IPv6 metadata)
		{"127.0.0.1:9998", production, false},      // loopback
		{"127.0.0.1:9998", development, true},      // the development identity provider
		{"10.20.3.4:443", production, false},       // private
		{"10.20.3.4:443", withIntranet, true},      // in the networks the operator allows
		{"10.21.3.4:443", withIntranet, false},     // outside them
		{"192.168.1.10:443", development, true},
	}
	for _, c := range cases {
		err := c.policy.check("tcp", c.address, nil)
		if c.allowed != (err == nil) {
			t.Errorf("%s (development %v, allowed %v): %v, want allowed %v", c.address, c.policy.development, c.policy.allowed, err, c.allowed)
		}
		if err != nil && !errors.Is(err, errForbiddenAddress) {
			t.Errorf("%s: %v is not errForbiddenAddress", c.address, err)
		}
	}
}

// A provider that does not answer holds at most maxCallsPerIssuer requests;
// after its discovery failed, calls fail at once for a while.
func TestProviderCallsAreBounded(t *testing.T) {
	p := newSSOProviders(providerAddresses{development: true})
	now := time.Now()
	var releases []func()
	for range maxCallsPerIssuer {
		release, err := p.acquire("https://slow.example", now)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	if _, err := p.acquire("https://slow.example", now); !errors.Is(err, errProviderBusy) {
		t.Fatalf("call %d: %v, want busy", maxCallsPerIssuer+1, err)
	}
	if release, err := p.acquire("https://other.example", now); err != nil {
		t.Fatalf("another provider: %v", err)
	} else {
		release()
	}
	releases[0]()
	if release, err := p.acquire("https://slow.example", now); err != nil {
		t.Fatalf("after one returned: %v", err)
	} else {
		release()
	}

	// 127.0.0.1:1 refuses connections: discovery fails, and is not tried
	// again for failureMemory.
	issuer := "http://127.0.0.1:1/oidc"
	if _, err := p.get(t.Context(), issuer, now); err == nil || errors.Is(err, errProviderBusy) {
		t.Fatalf("first discovery: %v, want a connection error", err)
	}
	if _, err := p.get(t.Context(), issuer, now.Add(time.Second)); !errors.Is(err, errProviderBusy) {
		t.Fatalf("right after a failure: %v, want busy", err)
	}
	if _, err := p.get(t.Context(), issuer, now.Add(failureMemory+time.Second)); err == nil || errors.Is(err, errProviderBusy) {
		t.Fatalf("after failureMemory: %v, want a new attempt", err)
	}
}
