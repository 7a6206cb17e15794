package sealbox

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealOpens(t *testing.T) {
	box, err := New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	sealed := box.Seal("s3cret-value", "sso:42")
	if strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed value shows the secret: %s", sealed)
	}
	if again := box.Seal("s3cret-value", "sso:42"); again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-3] ^= 1
	cases := []struct {
		name, sealed, boundTo string
		box                   *Box
		want                  string
	}{
		{"same owner", sealed, "sso:42", box, "s3cret-value"},
		{"another owner", sealed, "sso:43", box, ""},
		{"another key", sealed, "sso:42", other, ""},
		{"tampered", string(tampered), "sso:42", box, ""},
		{"no version", strings.TrimPrefix(sealed, version), "sso:42", box, ""},
		{"empty", "", "sso:42", box, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.box.Open(c.sealed, c.boundTo)
			if c.want == "" {
				if err == nil {
					t.Fatalf("opened %q", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Open = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func TestKeyLength(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}
