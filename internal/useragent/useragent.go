// Package useragent names the browser and operating system of a User-Agent
// header, for people to recognise their own signed-in browsers ("Firefox on
// Windows"). It is a small table, read in order, not a full parser: a
// library that knows every agent costs megabytes of memory at start for
// what is only ever shown as a label, and a label that is wrong or
// "Unknown browser" harms nothing.
package useragent

import "strings"

// Device is what a User-Agent says about the browser, "" where it says
// nothing recognisable.
type Device struct {
	Browser string
	OS      string
}

// String is the device as a label: "Chrome on macOS", "Firefox", "Unknown browser".
func (d Device) String() string {
	switch {
	case d.Browser != "" && d.OS != "":
		return d.Browser + " on " + d.OS
	case d.Browser != "":
		return d.Browser
	case d.OS != "":
		return "A browser on " + d.OS
	}
	return "Unknown browser"
}

// token is a marker in the header and the name it stands for.
type token struct{ marker, name string }

// browsers are checked in order: many agents name others too (Edge says
// Chrome and Safari; Chrome says Safari), so the most specific comes first.
var browsers = []token{
	{"Edg/", "Edge"}, {"EdgA/", "Edge"}, {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"}, {"OPiOS/", "Opera"},
	{"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"},
	{"YaBrowser/", "Yandex Browser"},
	{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
	{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
	{"Version/", "Safari"}, // Safari names its own version so; others above name theirs
	{"Safari/", "Safari"},
	{"Trident/", "Internet Explorer"}, {"MSIE ", "Internet Explorer"},
	{"curl/", "curl"},
}

// systems are checked in order too: iOS agents say "like Mac OS X", and
// Android ones "Linux".
var systems = []token{
	{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"iPod", "iOS"},
	{"Android", "Android"},
	{"CrOS", "ChromeOS"},
	{"Windows", "Windows"},
	{"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"Linux", "Linux"}, {"X11", "Linux"},
}

// Parse names the browser and operating system of a User-Agent header.
func Parse(header string) Device {
	return Device{Browser: first(header, browsers), OS: first(header, systems)}
}

func first(header string, table []token) string {
	for _, t := range table {
		if strings.Contains(header, t.marker) {
			return t.name
		}
	}
	return ""
}
