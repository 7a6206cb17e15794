package views

import (
	"testing"
	"time"
)

func TestFormatTime(t *testing.T) {
	newYork, _ := time.LoadLocation("America/New_York")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	moment := time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC)
	cases := []struct {
		loc  *time.Location
		want string
	}{
		{newYork, "29 Nov 2026, 05:05 EST"},
		{berlin, "29 Nov 2026, 11:05 CET"},
		{time.UTC, "29 Nov 2026, 10:05 UTC"},
		{nil, "29 Nov 2026, 10:05 UTC"},
	}
	for _, c := range cases {
		if got := FormatTime(moment, c.loc); got != c.want {
			t.Errorf("FormatTime in %v = %q, want %q", c.loc, got, c.want)
		}
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 5, 0, 0, time.UTC)
	cases := []struct {
		before time.Duration
		want   string
	}{
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"},
		{3*time.Minute + 20*time.Second, "3 minutes ago"},
		{59 * time.Minute, "59 minutes ago"},
		{time.Hour, "1 hour ago"},
		{23 * time.Hour, "23 hours ago"},
		{30 * time.Hour, "yesterday"},
		{4 * 24 * time.Hour, "4 days ago"},
		{7 * 24 * time.Hour, "22 Nov 2026, 10:05 UTC"},
		{-time.Hour, "29 Nov 2026, 11:05 UTC"}, // a time after now: the date, not "in an hour ago"
	}
	for _, c := range cases {
		if got := Ago(now.Add(-c.before), now, time.UTC); got != c.want {
			t.Errorf("Ago(%v before) = %q, want %q", c.before, got, c.want)
		}
	}
}
