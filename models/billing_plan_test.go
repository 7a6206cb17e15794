package models_test

import (
	"strings"
	"testing"

	"canopy/models"
)

// TestParseAmount: decimals in minor units without floating point; signs,
// symbols, too many decimals and letters refused.
func TestParseAmount(t *testing.T) {
	cases := []struct {
		in, currency string
		want         int64
		ok           bool
	}{
		{"12", "USD", 1200, true},
		{"12.5", "USD", 1250, true},
		{" 1,234.56 ", "USD", 123456, true},
		{"0.07", "EUR", 7, true},
		{"500", "JPY", 500, true},
		{"999999999999.99", "USD", 99999999999999, true},
		{"12.345", "USD", 0, false},
		{"5.5", "JPY", 0, false},
		{"-1", "USD", 0, false},
		{"$5", "EUR", 0, false},
		{"1,23", "USD", 0, false},
		{"abc", "USD", 0, false},
		{"", "USD", 0, false},
		{"1e3", "USD", 0, false},
		{"1000000000000", "USD", 0, false},
	}
	for _, c := range cases {
		got, err := models.ParseAmount(c.in, c.currency)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d, ok %v", c.in, c.currency, got, err, c.want, c.ok)
		}
	}
}

// TestFormatMoney: amounts written back as people read them.
func TestFormatMoney(t *testing.T) {
	cases := []struct {
		amount   int64
		currency string
		want     string
	}{
		{123456, "USD", "$1,234.56"}, {5, "EUR", "€0.05"}, {-250, "GBP", "-£2.50"}, {1200, "CHF", "CHF 12.00"}, {500, "JPY", "¥500"},
	}
	for _, c := range cases {
		if got := models.FormatMoney(c.amount, c.currency); got != c.want {
			t.Errorf("FormatMoney(%d, %s) = %q, want %q", c.amount, c.currency, got, c.want)
		}
	}
}

// FuzzParseAmount: whatever is typed, an accepted amount is non-negative,
// and written back as a plain decimal it parses to itself.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"12", "12.50", "1,234.56", "-1", "$5", "0.001", "999999999999.99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, currency := range []string{"USD", "JPY"} {
			n, err := models.ParseAmount(s, currency)
			if err != nil {
				continue
			}
			if n < 0 {
				t.Fatalf("%q parsed to %d", s, n)
			}
			back := models.FormatAmount(n, currency)
			if again, err := models.ParseAmount(back, currency); err != nil || again != n {
				t.Fatalf("%q → %d → %q → %d, %v", s, n, back, again, err)
			}
			if strings.ContainsAny(back, "-e") {
				t.Fatalf("%q written back as %q", s, back)
			}
		}
	})
}
