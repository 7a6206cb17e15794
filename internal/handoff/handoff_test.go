package handoff

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var key = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	now := time.Now()
	minted, raw := New(key, 7, 42, 3, "state-1", now)
	got, err := Parse(key, raw, now.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got != minted {
		t.Fatalf("parsed %+v, minted %+v", got, minted)
	}
	if !got.MatchesState("state-1") || got.MatchesState("state-2") || got.MatchesState("") {
		t.Fatal("a token must match exactly the state it was minted for")
	}
	if _, other := New(key, 7, 42, 3, "state-1", now); other == raw {
		t.Fatal("two tokens for the same hand-off are identical; ids must be random")
	}
}

func TestRejects(t *testing.T) {
	now := time.Now()
	_, raw := New(key, 7, 42, 3, "state-1", now)
	payload, mac, _ := strings.Cut(raw, ".")
	_, forged := New([]byte("another key, another key, another"), 7, 42, 3, "state-1", now)
	cases := []struct {
		name string
		raw  string
		at   time.Time
		want error
	}{
		{"empty", "", now, ErrMalformed},
		{"no dot", payload, now, ErrMalformed},
		{"bad base64", "!!!." + mac, now, ErrMalformed},
		{"short payload", payload[:10] + "." + mac, now, ErrMalformed},
		{"other key", forged, now, ErrSignature},
		{"flipped payload", flip(payload) + "." + mac, now, ErrSignature},
		{"expired", raw, now.Add(TTL + time.Second), ErrExpired},
		{"oversized", strings.Repeat("a", 300) + "." + mac, now, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Parse(key, c.raw, c.at); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// flip changes the first character of a base64 string to another valid one.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// FuzzParse: Parse never panics, and the only tokens it accepts are ones
// minted with our key, carrying exactly the fields that were minted. (Fuzz
// workers are separate processes that each mint their own token, so the
// property is about fields, not about one particular string; the clock is
// fixed so expiry is the same everywhere.)
func FuzzParse(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	_, raw := New(key, 1, 2, 3, "state-1", now)
	f.Add(raw)
	f.Add("")
	f.Add("a.b")
	f.Add(strings.Repeat(".", 50))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(key, s, now)
		if err != nil {
			return
		}
		if tok.UserID != 1 || tok.TenantID != 2 || tok.SessionID != 3 || !tok.MatchesState("state-1") {
			t.Fatalf("accepted a token that was never minted: %q -> %+v", s, tok)
		}
	})
}
