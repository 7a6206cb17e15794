package models

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestConnectionsAreCountedUntilClosed: WaitConnectionsClosed's count
// follows each dialled connection until it is closed, once however often
// it is closed, and waiting ends when the last one closes or the time is
// up.
func TestConnectionsAreCountedUntilClosed(t *testing.T) {
	var count connectionCount
	dial := count.track(func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		t.Cleanup(func() { _ = server.Close() })
		return client, nil
	})
	first, err := dial(context.Background(), "tcp", "db:5432")
	if err != nil {
		t.Fatal(err)
	}
	second, _ := dial(context.Background(), "tcp", "db:5432")

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := count.wait(short); err == nil {
		t.Fatal("waiting ended with two connections open")
	}
	_ = first.Close()
	_ = first.Close() // a second Close must not count twice
	waited := make(chan error, 1)
	go func() { waited <- count.wait(context.Background()) }()
	select {
	case err := <-waited:
		t.Fatalf("waiting ended (%v) with one connection open", err)
	case <-time.After(20 * time.Millisecond):
	}
	_ = second.Close()
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting did not end when the last connection closed")
	}
}

// TestWithConnectTimeout: a connection string without connect_timeout gets
// the default; one that has it keeps its own.
func TestWithConnectTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@db/canopy":                               "postgres://u@db/canopy?connect_timeout=5",
		"postgres://u@db/canopy?sslmode=disable":               "postgres://u@db/canopy?connect_timeout=5&sslmode=disable",
		"postgres://u@db/canopy?connect_timeout=30":            "postgres://u@db/canopy?connect_timeout=30",
		"postgresql://u:p%40ss@db:5433/canopy?sslmode=require": "postgresql://u:p%40ss@db:5433/canopy?connect_timeout=5&sslmode=require",
		"host=db user=u dbname=canopy":                         "host=db user=u dbname=canopy connect_timeout=5",
		"host=db user=u connect_timeout=2":                     "host=db user=u connect_timeout=2",
	} {
		if got := withConnectTimeout(in); got != want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", in, got, want)
		}
	}
}
