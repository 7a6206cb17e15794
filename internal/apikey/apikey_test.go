package apikey

import (
	"errors"
	"strings"
	"testing"
)

func TestNewKeysParse(t *testing.T) {
	for _, production := range []bool{false, true} {
		k, err := New(production)
		if err != nil {
			t.Fatal(err)
		}
		want := SandboxPrefix
		if production {
			want = ProductionPrefix
		}
		if !strings.HasPrefix(k.Secret, want) || len(k.Secret) != Length {
			t.Fatalf("key %q: want prefix %s and length %d", k.Secret, want, Length)
		}
		got, err := Parse(k.Secret)
		if err != nil || got != k {
			t.Fatalf("Parse(%q) = %+v, %v", k.Secret, got, err)
		}
		if k.Prefix() != want || k.Last4() != k.Secret[len(k.Secret)-4:] {
			t.Fatalf("prefix %q last4 %q", k.Prefix(), k.Last4())
		}
	}
}

func TestKeysDiffer(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k, err := New(false)
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.Secret] {
			t.Fatalf("key %s made twice", k.Secret)
		}
		seen[k.Secret] = true
	}
}

func TestParseRefuses(t *testing.T) {
	k, err := New(true)
	if err != nil {
		t.Fatal(err)
	}
	body := k.Secret[len(ProductionPrefix):]
	flipped := []byte(k.Secret)
	flipped[12] = map[bool]byte{true: 'a', false: 'b'}[flipped[12] != 'a']
	for name, s := range map[string]string{
		"empty":             "",
		"no prefix":         body,
		"other prefix":      "sk_live_" + body + "x",
		"short":             k.Secret[:Length-1],
		"long":              k.Secret + "A",
		"one character off": string(flipped),
		"bad character":     k.Secret[:20] + "-" + k.Secret[21:],
		"test body on live": strings.Replace(k.Secret, ProductionPrefix, SandboxPrefix, 1),
		"upper prefix":      strings.ToUpper(k.Secret[:9]) + k.Secret[9:],
		"bearer word":       "Bearer " + k.Secret,
	} {
		if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse(%q) = %v, want ErrMalformed", name, s, err)
		}
	}
}

func TestHashIsKeyed(t *testing.T) {
	k, err := New(false)
	if err != nil {
		t.Fatal(err)
	}
	a, b := NewHasher([]byte("one key")).Hash(k), NewHasher([]byte("another")).Hash(k)
	if a == b || len(a) != 64 || strings.Contains(a, k.Secret) {
		t.Fatalf("hashes %s and %s", a, b)
	}
	if again := NewHasher([]byte("one key")).Hash(k); again != a {
		t.Fatal("the hash is not stable")
	}
}

func FuzzParse(f *testing.F) {
	k, _ := New(false)
	f.Add(k.Secret)
	f.Add("cnp_live_")
	f.Add("cnp_test_000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if got.Secret != s || len(s) != Length || got.Production != strings.HasPrefix(s, ProductionPrefix) {
			t.Fatalf("Parse(%q) accepted %+v", s, got)
		}
		if checksum(s[:len(s)-checksumLength]) != s[len(s)-checksumLength:] {
			t.Fatalf("accepted a wrong checksum: %q", s)
		}
	})
}
