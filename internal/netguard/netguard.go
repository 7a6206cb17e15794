// Package netguard decides which addresses Canopy connects to when a
// customer names the destination (a single sign-on issuer, a webhook
// endpoint), so that the server never becomes their way to addresses only
// it can reach. The check runs on the connection actually dialled, after
// DNS resolution (net.Dialer's Control), so a name that resolves to a
// forbidden address — at once or on a later lookup — is refused too.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrForbidden is a connection refused before it was made.
var ErrForbidden = errors.New("the address is not one Canopy connects to")

// Policy is which addresses may be dialled. Link-local (where clouds serve
// instance metadata and credentials), unspecified, multicast and the
// known metadata addresses are refused always, unless an Allowed network
// names them; loopback, private and shared (100.64/10) ones are refused
// unless AllowPrivate or an Allowed network holds them. Public addresses
// are allowed.
type Policy struct {
	// AllowPrivate admits loopback, private and shared addresses: a
	// development server's identity provider or receiver.
	AllowPrivate bool
	// Allowed are the networks the operator admits explicitly.
	Allowed []*net.IPNet
}

var (
	// sharedAddressSpace is RFC 6598's carrier-grade NAT range, where some
	// clouds also put their metadata service.
	sharedAddressSpace = mustCIDR("100.64.0.0/10")
	// thisNetwork is 0.0.0.0/8, which Linux routes to the host itself.
	thisNetwork = mustCIDR("0.0.0.0/8")
	// metadataAddresses are clouds' instance metadata services that are
	// not link-local: AWS's IPv6 one, Alibaba's.
	metadataAddresses = []net.IP{net.ParseIP("fd00:ec2::254"), net.ParseIP("100.100.100.200")}
	// reserved are ranges no public service answers on: benchmarking
	// (198.18/15), IETF protocol assignments (192.0.0/24), the old class E
	// (240/4) and IPv6's deprecated site-local (fec0::/10).
	reserved = []*net.IPNet{mustCIDR("198.18.0.0/15"), mustCIDR("192.0.0.0/24"), mustCIDR("240.0.0.0/4"), mustCIDR("fec0::/10")}
	// translated are IPv6 ranges that carry an IPv4 address a gateway
	// reaches for them: NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4
	// (2002::/16), with where in the address the IPv4 one sits.
	translated = []struct {
		network *net.IPNet
		at      int
	}{{mustCIDR("64:ff9b::/96"), 12}, {mustCIDR("64:ff9b:1::/48"), 12}, {mustCIDR("2002::/16"), 2}}
	// ipv4Compatible is the deprecated ::a.b.c.d form.
	ipv4Compatible = mustCIDR("::/96")
)

// embeddedIPv4 is the IPv4 address an IPv6 one carries for a translator,
// or nil.
func embeddedIPv4(ip net.IP) net.IP {
	if ip.To4() != nil || len(ip) != net.IPv6len {
		return nil
	}
	for _, t := range translated {
		if t.network.Contains(ip) {
			return net.IPv4(ip[t.at], ip[t.at+1], ip[t.at+2], ip[t.at+3])
		}
	}
	if ipv4Compatible.Contains(ip) && !ip.IsUnspecified() && !ip.IsLoopback() {
		return net.IPv4(ip[12], ip[13], ip[14], ip[15])
	}
	return nil
}

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// Class names the kind of a forbidden address, for messages and tests;
// "" for an address that is public.
func Class(ip net.IP) string {
	if v4 := embeddedIPv4(ip); v4 != nil {
		// Classed as what the translator would reach.
		return Class(v4)
	}
	switch {
	case ip == nil:
		return "not an IP address"
	case ip.IsUnspecified() || thisNetwork.Contains(ip):
		return "unspecified"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local"
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return "multicast"
	case isMetadata(ip):
		return "metadata"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case sharedAddressSpace.Contains(ip):
		return "shared"
	case isReserved(ip):
		return "reserved"
	}
	return ""
}

func isReserved(ip net.IP) bool {
	for _, n := range reserved {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func isMetadata(ip net.IP) bool {
	for _, m := range metadataAddresses {
		if m.Equal(ip) {
			return true
		}
	}
	return false
}

// Allows tells whether ip may be dialled.
func (p Policy) Allows(ip net.IP) bool {
	class := Class(ip)
	if class == "" {
		return true
	}
	if ip == nil {
		return false
	}
	for _, n := range p.Allowed {
		if n.Contains(ip) {
			return true
		}
	}
	switch class {
	case "loopback", "private", "shared":
		return p.AllowPrivate
	}
	return false
}

// Check is a net.Dialer Control function: it refuses a connection to an
// address the policy does not allow, before the connection is made.
func (p Policy) Check(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if !p.Allows(ip) {
		return fmt.Errorf("connect to %s (%s): %w", address, Class(ip), ErrForbidden)
	}
	return nil
}

// Dialer dials only what the policy allows, giving up after timeout.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: p.Check}
}

// Transport is an HTTP transport that connects directly (a proxy would
// hide the address checked) and only where the policy allows.
func (p Policy) Transport(dialTimeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = p.Dialer(dialTimeout).DialContext
	return t
}
