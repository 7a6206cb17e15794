// Package dnsproof checks that a DNS name holds an expected TXT record: how
// a company proves it controls an email domain before its identity
// provider may sign in people of that domain.
package dnsproof

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// Checker looks up TXT records through one resolver: the system's, or a
// DNS server of the configuration's choosing.
type Checker struct {
	resolver *net.Resolver
	timeout  time.Duration
}

// NewChecker makes a checker asking resolverAddr ("host:port"), or the
// system's resolvers when it is empty; each check gives up after timeout.
// Go's own resolver is used either way, so the behaviour (UDP, then TCP
// when an answer is truncated) is the same whatever the platform.
func NewChecker(resolverAddr string, timeout time.Duration) *Checker {
	r := &net.Resolver{PreferGo: true}
	if resolverAddr != "" {
		var d net.Dialer
		// The resolver names the system's servers; every query goes to
		// resolverAddr instead, over the network it asks for.
		r.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, resolverAddr)
		}
	}
	return &Checker{resolver: r, timeout: timeout}
}

// Result is what a check found at the name.
type Result struct {
	// Records are the TXT records at the name, each one's strings joined
	// as DNS clients read them; none when the name does not exist or holds
	// no TXT record.
	Records []string
	// Match: one of them is exactly the value wanted.
	Match bool
}

// ErrLookup is a lookup that failed without an answer: the server did not
// reply in time or answered with an error. Nothing is known of the name.
var ErrLookup = errors.New("the DNS lookup failed")

// Check looks up the TXT records at name and tells whether one equals
// want. A name that does not exist, or holds no TXT record, is an answer
// (a Result without records), not an error.
func (c *Checker) Check(ctx context.Context, name, want string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Rooted, so no search domain of the system's is tried after it.
	records, err := c.resolver.LookupTXT(ctx, strings.TrimSuffix(name, ".")+".")
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return Result{}, nil
		}
		return Result{}, fmt.Errorf("%w: TXT %s: %w", ErrLookup, name, err)
	}
	return Result{Records: records, Match: slices.Contains(records, want)}, nil
}
