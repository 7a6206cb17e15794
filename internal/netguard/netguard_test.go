package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPolicyPerAddressClass(t *testing.T) {
	_, intranet, _ := net.ParseCIDR("10.20.0.0/16")
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	public := Policy{}
	withIntranet := Policy{Allowed: []*net.IPNet{intranet}}
	withLoopback := Policy{Allowed: []*net.IPNet{loopback}}
	development := Policy{AllowPrivate: true}
	cases := []struct {
		address string
		policy  Policy
		class   string
		allowed bool
	}{
		{"93.184.216.34:443", public, "", true},
		{"[2606:2800:220:1::]:443", public, "", true},
		{"127.0.0.1:80", public, "loopback", false},
		{"[::1]:80", public, "loopback", false},
		{"[::ffff:127.0.0.1]:80", public, "loopback", false},
		{"127.0.0.1:80", withLoopback, "loopback", true},
		{"127.0.0.1:80", development, "loopback", true},
		{"10.1.2.3:80", public, "private", false},
		{"172.16.0.1:80", public, "private", false},
		{"192.168.1.1:80", public, "private", false},
		{"[fc00::1]:80", public, "private", false},
		{"10.20.3.4:443", withIntranet, "private", true},
		{"10.21.3.4:443", withIntranet, "private", false},
		{"10.1.2.3:80", withLoopback, "private", false},
		{"169.254.169.254:80", public, "link-local", false},
		{"169.254.169.254:80", development, "link-local", false},
		{"[fe80::1]:80", development, "link-local", false},
		{"239.1.2.3:80", development, "multicast", false},
		{"[ff02::1]:80", development, "link-local", false},
		{"[ff05::1]:80", development, "multicast", false},
		{"0.0.0.0:80", development, "unspecified", false},
		{"0.1.2.3:80", development, "unspecified", false},
		{"[::]:80", development, "unspecified", false},
		{"100.64.1.1:80", public, "shared", false},
		{"100.64.1.1:80", development, "shared", true},
		{"100.100.100.200:80", development, "metadata", false},
		{"[fd00:ec2::254]:80", development, "metadata", false},
		// IPv6 addresses a translator turns into IPv4 ones are what they reach.
		{"[64:ff9b::a9fe:a9fe]:80", development, "link-local", false},
		{"[64:ff9b::7f00:1]:80", public, "loopback", false},
		{"[64:ff9b::a00:1]:80", public, "private", false},
		{"[64:ff9b:1::a00:1]:80", public, "private", false},
		{"[2002:a00:1::1]:80", public, "private", false},
		{"[::a00:1]:80", public, "private", false},
		{"[64:ff9b::5db8:d822]:443", public, "", true},
		{"198.18.0.1:80", public, "reserved", false},
		{"240.0.0.1:80", public, "reserved", false},
		{"[fec0::1]:80", public, "reserved", false},
	}
	for _, c := range cases {
		host, _, _ := net.SplitHostPort(c.address)
		if got := Class(net.ParseIP(host)); got != c.class {
			t.Errorf("Class(%s) = %q, want %q", host, got, c.class)
		}
		err := c.policy.Check("tcp", c.address, nil)
		if c.allowed != (err == nil) {
			t.Errorf("%s with %+v: %v, want allowed %v", c.address, c.policy, err, c.allowed)
		}
		if err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v is not ErrForbidden", c.address, err)
		}
	}
}

// The check runs on the address dialled, after DNS: "localhost" resolves
// to loopback and is refused like 127.0.0.1 itself.
func TestTransportChecksTheDialledAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: Policy{}.Transport(time.Second)}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected, want refused", host)
			continue
		}
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: %v, want ErrForbidden", host, err)
		}
	}
	allowed := &http.Client{Transport: Policy{AllowPrivate: true}.Transport(time.Second)}
	resp, err := allowed.Get(srv.URL)
	if err != nil {
		t.Fatalf("allowed: %v", err)
	}
	resp.Body.Close()
}
