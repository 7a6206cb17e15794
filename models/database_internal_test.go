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
