package views

import (
	"fmt"
	"time"
)

// DateTimeLayout is the one way Canopy writes a moment, with its time zone
// named: "29 Nov 2026, 05:05 EST".
const DateTimeLayout = "2 Jan 2006, 15:04 MST"

// FormatTime writes t as seen in loc, the one way Canopy shows times.
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(DateTimeLayout)
}

// Ago says how long before now t was, the way people say it: "just now",
// "3 minutes ago", "2 hours ago", "yesterday", "4 days ago". Past a week
// (and for a time after now, a clock's disagreement) it is the date itself.
func Ago(t, now time.Time, loc *time.Location) string {
	d := now.Sub(t)
	switch {
	case d < -time.Minute || d >= 7*24*time.Hour:
		return FormatTime(t, loc)
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
