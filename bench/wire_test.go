package main

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// msg is a frontend message: a type byte, then a length that counts itself.
func msg(kind byte, body string) []byte {
	b := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}

// untyped is a startup-phase message: length, then a code.
func untyped(code uint32, body string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(8+len(body)))
	binary.BigEndian.PutUint32(b[4:], code)
	return append(b, body...)
}

const sslRequestCode = 80877103

// conversation is what pgx sends: an SSL request (refused), the startup
// message, a password, then a query with parameters (Bind, Describe,
// Execute, Sync in one write) and BEGIN as a simple Query.
func conversation() []byte {
	return bytes.Join([][]byte{
		untyped(sslRequestCode, ""),
		untyped(protocolVersion3, "user\x00app\x00database\x00canopy\x00\x00"),
		msg('p', "secret\x00"),
		msg('B', "\x00\x00\x00\x01\x00\x00"), msg('D', "P\x00"), msg('E', "\x00\x00\x00\x00\x00"), msg('S', ""),
		msg('Q', "begin\x00"),
	}, nil)
}

func TestFrontendParserWhateverTheChunks(t *testing.T) {
	want := "pBDESQ"
	for _, chunk := range []int{1, 2, 3, 7, 1 << 20} {
		var kinds []byte
		p := &frontendParser{onTyped: func(k byte) { kinds = append(kinds, k) }}
		all := conversation()
		for len(all) > 0 {
			n := min(chunk, len(all))
			if err := p.feed(all[:n]); err != nil {
				t.Fatalf("chunks of %d: %v", chunk, err)
			}
			all = all[n:]
		}
		if string(kinds) != want {
			t.Errorf("chunks of %d: messages %q, want %q", chunk, kinds, want)
		}
	}
	if err := (&frontendParser{typed: true, onTyped: func(byte) {}}).feed([]byte{'Q', 0, 0, 0, 2}); err == nil {
		t.Error("a length below 4 was accepted")
	}
}

// TestWireProxyCounts runs a conversation through the proxy to a fake
// server that answers each burst: statements are Execute and Query
// messages, round trips the client's turns after an answer.
func TestWireProxyCounts(t *testing.T) {
	fake, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	go func() {
		conn, err := fake.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
			if _, err := conn.Write([]byte("Z")); err != nil { // any answer ends the client's turn
				return
			}
		}
	}()
	proxy, err := startWireProxy(fake.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.close()
	conn, err := net.Dial("tcp", proxy.l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	turn := func(parts ...[]byte) {
		t.Helper()
		if _, err := conn.Write(bytes.Join(parts, nil)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	turn(untyped(sslRequestCode, ""))
	turn(untyped(protocolVersion3, "user\x00app\x00\x00"))
	turn(msg('p', "secret\x00"))
	before := proxy.counts.read()
	turn(msg('Q', "begin\x00"))
	turn(msg('B', ""), msg('E', "\x00\x00\x00\x00\x00"), msg('S', ""))         // one query
	turn(msg('B', ""), msg('E', ""), msg('B', ""), msg('E', ""), msg('S', "")) // two pipelined
	turn(msg('Q', "commit\x00"))
	got := proxy.counts.read().minus(before)
	if want := (wireCount{statements: 5, roundTrips: 4}); got != want {
		t.Errorf("counted %+v, want %+v", got, want)
	}
	// The password came after the startup message: one round trip, no statement.
	if before != (wireCount{statements: 0, roundTrips: 1}) {
		t.Errorf("before the queries: %+v, want the password's round trip only", before)
	}
}

func TestViaProxy(t *testing.T) {
	got, err := viaProxy("postgres://app@127.0.0.1:5432/canopy_bench?sslmode=prefer", "127.0.0.1:40001")
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://app@127.0.0.1:40001/canopy_bench?sslmode=disable"; got != want {
		t.Errorf("viaProxy = %s, want %s", got, want)
	}
	if addr, err := dbAddress("postgres://app@db.internal/x"); err != nil || addr != "db.internal:5432" {
		t.Errorf("dbAddress without a port = %q, %v", addr, err)
	}
	if _, err := dbAddress("postgres:///x?host=/var/run/postgresql"); err == nil {
		t.Error("a Unix socket URL was accepted")
	}
}
