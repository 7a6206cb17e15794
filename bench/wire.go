package main

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
)

// The EXPLAIN pass connects its in-process handlers to Postgres through
// wireProxy, which passes the bytes on unchanged and counts, in the
// client's messages (the PostgreSQL frontend protocol), the statements and
// the round trips: what a page costs the database in messages, whatever
// sent them (GORM, database/sql, pgx's own BEGIN and COMMIT). Postgres's
// statement statistics (pg_stat_statements) would need a server restart to
// load, and log_statement is server-wide.
//
//   - a statement is an Execute message (extended protocol: what pgx sends
//     for a query with parameters) or a simple Query message (BEGIN, COMMIT,
//     a query without parameters);
//   - a round trip is the client sending after the server has answered:
//     one burst of messages, then waiting. Messages pipelined before a
//     reply count once, as they cost one wait.

// wireCounts are the counters of a proxy, for all its connections.
type wireCounts struct{ statements, roundTrips atomic.Int64 }

// wireCount is one reading of the counters.
type wireCount struct{ statements, roundTrips int64 }

func (c *wireCounts) read() wireCount {
	return wireCount{c.statements.Load(), c.roundTrips.Load()}
}

func (a wireCount) minus(b wireCount) wireCount {
	return wireCount{a.statements - b.statements, a.roundTrips - b.roundTrips}
}

// frontendParser splits the client's side of a connection into messages,
// however the bytes arrive. The first messages (startup, SSL or GSSAPI
// encryption requests) have no type byte; every later one is a type byte
// and a big-endian length that counts itself but not the type.
type frontendParser struct {
	typed   bool   // past the startup message
	header  []byte // the part of the next message's header read so far
	skip    int64  // bytes of the current message's body still to pass
	onTyped func(kind byte)
}

const protocolVersion3 = 3 << 16 // the startup message's code; the others (SSL, GSSAPI, cancel) are requests

func (p *frontendParser) feed(b []byte) error {
	for len(b) > 0 {
		if p.skip > 0 {
			n := min(int64(len(b)), p.skip)
			p.skip -= n
			b = b[n:]
			continue
		}
		size := 5 // type and length
		if !p.typed {
			size = 8 // length and code
		}
		n := min(len(b), size-len(p.header))
		p.header = append(p.header, b[:n]...)
		b = b[n:]
		if len(p.header) < size {
			return nil
		}
		if p.typed {
			kind, length := p.header[0], int64(binary.BigEndian.Uint32(p.header[1:5]))
			if length < 4 {
				return errors.New("frontend message shorter than its length field")
			}
			p.skip = length - 4
			p.onTyped(kind)
		} else {
			length, code := int64(binary.BigEndian.Uint32(p.header[:4])), binary.BigEndian.Uint32(p.header[4:8])
			if length < 8 {
				return errors.New("startup message shorter than its header")
			}
			p.skip = length - 8
			p.typed = code == protocolVersion3
		}
		p.header = p.header[:0]
	}
	return nil
}

// wireProxy listens on a loopback port and forwards every connection to
// target, counting as it goes.
type wireProxy struct {
	l      net.Listener
	target string
	counts wireCounts
	wg     sync.WaitGroup
}

func startWireProxy(target string) (*wireProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &wireProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *wireProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.l.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(client)
		}()
	}
}

func (p *wireProxy) serve(client net.Conn) {
	defer client.Close()
	var d net.Dialer
	server, err := d.DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	// answered: the server has sent something since the client last did.
	var answered atomic.Bool
	answered.Store(true)
	parser := &frontendParser{onTyped: func(kind byte) {
		switch kind {
		case 'E', 'Q': // Execute, Query
			p.counts.statements.Add(1)
		}
	}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				answered.Store(true)
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = client.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if answered.Swap(false) && parser.typed {
				p.counts.roundTrips.Add(1)
			}
			_ = parser.feed(buf[:n]) // a parse error only stops the counting being right, not the traffic
			if _, werr := server.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = server.Close()
	<-done
}

func (p *wireProxy) close() {
	_ = p.l.Close()
	p.wg.Wait()
}

// viaProxy is dbURL with its host replaced by the proxy's address and TLS
// off (the proxy must read the messages; it is loopback to loopback).
func viaProxy(dbURL, proxyAddr string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	u.Host = proxyAddr
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// dbAddress is the host:port of a database URL (port 5432 when not given).
func dbAddress(dbURL string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", err
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", errors.New("the database URL names no host (a Unix socket cannot be proxied)")
	}
	if port == "" {
		port = "5432"
	}
	return net.JoinHostPort(host, port), nil
}
