package devicecookie

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	signer = NewSigner([]byte("0123456789abcdef0123456789abcdef"))
	other  = NewSigner([]byte("another key, another key, another"))
	unseen = NewSigner([]byte("a key the fuzzer never signs with"))
	now    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	d := signer.Issue("alice@acme.test", now)
	got := signer.Read([]string{signer.Encode([]Device{d})}, now.Add(time.Hour))
	if len(got) != 1 || got[0] != d {
		t.Fatalf("read %+v, issued %+v", got, d)
	}
	if !signer.Belongs(got[0], "alice@acme.test") || signer.Belongs(got[0], "bob@globex.test") {
		t.Fatal("an entry must belong to exactly the account it was issued for")
	}
	if again := signer.Issue("alice@acme.test", now); again.ID() == d.ID() {
		t.Fatal("two entries for the same account share a nonce; nonces must be random")
	}
	if len(d.ID()) != 2*nonceLen {
		t.Fatalf("ID %q is not the hex nonce", d.ID())
	}
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	raw := signer.Encode([]Device{signer.Issue("alice@acme.test", now)})
	forged := other.Encode([]Device{other.Issue("alice@acme.test", now)})
	cases := []struct {
		name string
		raw  string
		at   time.Time
		want error
	}{
		{"empty", "", now, ErrMalformed},
		{"short", raw[:len(raw)-1], now, ErrMalformed},
		{"long", raw + "A", now, ErrMalformed},
		{"not base64", strings.Repeat("!", len(raw)), now, ErrMalformed},
		{"other key", forged, now, ErrSignature},
		{"flipped account", flip(raw, 3), now, ErrSignature},
		{"flipped nonce", flip(raw, 30), now, ErrSignature},
		{"flipped time", flip(raw, 50), now, ErrSignature},
		{"flipped signature", flip(raw, len(raw)-5), now, ErrSignature},
		{"too old", raw, now.Add(Lifetime), ErrExpired},
		{"from the future", raw, now.Add(-time.Hour), ErrExpired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if _, err := signer.Parse(c.raw, c.at); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := signer.Parse(raw, now.Add(Lifetime-time.Second)); err != nil {
		t.Fatalf("an entry within its lifetime was refused: %v", err)
	}
}

// flip changes the character at i to another valid base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// TestReadKeepsValidEntries: a browser's cookie may hold entries of several
// accounts, be sent twice under the same name, or carry rubbish; only valid
// entries count, the newest per account, newest first.
func TestReadKeepsValidEntries(t *testing.T) {
	t.Parallel()
	alice := signer.Issue("alice@acme.test", now)
	bob := signer.Issue("bob@globex.test", now.Add(time.Minute))
	aliceLater := signer.Issue("alice@acme.test", now.Add(2*time.Minute))
	forged := other.Issue("carol@initech.test", now)
	got := signer.Read([]string{
		signer.Encode([]Device{alice, bob}) + ".garbage." + other.Encode([]Device{forged}),
		"not a cookie at all",
		signer.Encode([]Device{aliceLater}),
	}, now.Add(time.Hour))
	if len(got) != 2 || got[0] != aliceLater || got[1] != bob {
		t.Fatalf("read %+v, want alice's later entry then bob's", got)
	}
	if d, ok := signer.Find(got, "bob@globex.test"); !ok || d != bob {
		t.Fatal("bob's entry not found")
	}
	if _, ok := signer.Find(got, "carol@initech.test"); ok {
		t.Fatal("an entry signed with another key was found")
	}
	if long := signer.Read([]string{strings.Repeat(signer.Encode([]Device{alice})+".", MaxEntries+1)}, now); len(long) != 0 {
		t.Fatal("a value longer than any the server writes was read")
	}
}

func TestRememberKeepsOneEntryPerAccountAndAtMostMaxEntries(t *testing.T) {
	t.Parallel()
	var devices []Device
	emails := []string{"a@x.test", "b@x.test", "c@x.test", "d@x.test", "e@x.test", "f@x.test"}
	for i, email := range emails {
		devices = Remember(devices, signer.Issue(email, now.Add(time.Duration(i)*time.Minute)))
	}
	if len(devices) != MaxEntries {
		t.Fatalf("%d entries, want %d", len(devices), MaxEntries)
	}
	if _, ok := signer.Find(devices, "a@x.test"); ok {
		t.Fatal("the account signed in to longest ago was kept beyond MaxEntries")
	}
	fresh := signer.Issue("c@x.test", now.Add(time.Hour))
	devices = Remember(devices, fresh)
	if len(devices) != MaxEntries || devices[0] != fresh {
		t.Fatalf("remembering again: %d entries, first %+v", len(devices), devices[0])
	}
	count := 0
	for _, d := range devices {
		if signer.Belongs(d, "c@x.test") {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("c@x.test has %d entries, want 1", count)
	}
	// What the server writes it reads back whole.
	if got := signer.Read([]string{signer.Encode(devices)}, now.Add(2*time.Hour)); len(got) != MaxEntries || got[0] != fresh {
		t.Fatalf("read back %d entries", len(got))
	}
}

// FuzzRead: no cookie value makes the reader panic, and whatever it accepts
// was signed with the key: without it, no value yields an entry.
func FuzzRead(f *testing.F) {
	f.Add(signer.Encode([]Device{signer.Issue("alice@acme.test", now)}))
	f.Add(signer.Encode([]Device{signer.Issue("alice@acme.test", now), signer.Issue("bob@globex.test", now)}))
	f.Add(other.Encode([]Device{other.Issue("alice@acme.test", now)}))
	f.Add("")
	f.Add("....")
	f.Add(strings.Repeat("A", encodedLen))
	f.Fuzz(func(t *testing.T, value string) {
		devices := signer.Read([]string{value}, now)
		if len(devices) > MaxEntries {
			t.Fatalf("%d entries read, more than %d", len(devices), MaxEntries)
		}
		for _, d := range devices {
			if !strings.Contains(value, signer.Encode([]Device{d})) {
				t.Fatalf("entry %+v is not in the value it was read from", d)
			}
		}
		if forged := unseen.Read([]string{value}, now); len(forged) != 0 {
			t.Fatalf("%d entries read with a key no one signed with", len(forged))
		}
	})
}
