// Package dnstest serves DNS on loopback for tests: a real server (UDP and
// TCP on one port) answering TXT queries from records the test chooses, so
// a domain proof is checked the way it is in production, over the wire.
// Only test code imports it.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Server answers TXT queries for the names it was given; any other name
// does not exist (NXDOMAIN).
type Server struct {
	// Addr is where it listens, "127.0.0.1:port", for UDP and TCP alike.
	Addr string

	mu       sync.Mutex
	txt      map[string][]string // fully qualified, lowercase name → records
	servfail map[string]bool
	truncate atomic.Bool
	tcp      atomic.Int64 // queries answered over TCP
}

// Start serves until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{txt: map[string][]string{}, servfail: map[string]bool{}}
	pc, l := listenBoth(t)
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { s.answer(w, r, false) })}
	tcp := &dns.Server{Listener: l, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) { s.answer(w, r, true) })}
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return s
}

// SetTXT makes name hold these TXT records (none: the name exists but
// holds no TXT record), replacing what it held.
func (s *Server) SetTXT(name string, records ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if records == nil {
		records = []string{}
	}
	s.txt[dns.Fqdn(strings.ToLower(name))] = records
}

// ServFail makes queries for name fail on the server's side.
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[dns.Fqdn(strings.ToLower(name))] = true
}

// TruncateUDP makes every answer over UDP come back empty and truncated,
// as a large one would: a client must ask again over TCP.
func (s *Server) TruncateUDP() { s.truncate.Store(true) }

// TCPQueries is how many queries were answered over TCP.
func (s *Server) TCPQueries() int64 { return s.tcp.Load() }

func (s *Server) answer(w dns.ResponseWriter, r *dns.Msg, overTCP bool) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if overTCP {
		s.tcp.Add(1)
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	records, exists := s.txt[name]
	fail := s.servfail[name]
	s.mu.Unlock()
	switch {
	case fail:
		m.Rcode = dns.RcodeServerFailure
	case !exists:
		m.Rcode = dns.RcodeNameError
	case !overTCP && s.truncate.Load():
		m.Truncated = true
	case q.Qtype == dns.TypeTXT:
		for _, rec := range records {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
				Txt: split(rec),
			})
		}
	}
	_ = w.WriteMsg(m)
}

// split cuts a record into the strings of at most 255 bytes DNS holds it
// in; clients join them again.
func split(rec string) []string {
	var out []string
	for len(rec) > 255 {
		out = append(out, rec[:255])
		rec = rec[255:]
	}
	return append(out, rec)
}

// Silent is the address of a DNS server that never answers (UDP packets
// are read by nobody, TCP connections are accepted and left waiting):
// what a client meets when a resolver is down or a firewall drops its
// queries.
func Silent(t testing.TB) string {
	t.Helper()
	pc, l := listenBoth(t)
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = pc.Close()
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			_ = c.Close()
		}
	})
	return pc.LocalAddr().String()
}

// listenBoth listens for UDP and TCP on the same loopback port.
func listenBoth(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		lastErr = err
		_ = pc.Close()
	}
	t.Fatalf("listen for DNS on loopback: %v", lastErr)
	return nil, nil
}
