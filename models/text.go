package models

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanLine prepares a one-line value such as a name: runs of white space
// (tabs and line breaks included) become one space and the ends are trimmed.
// ok is false when s holds any other control character (NUL, escape…),
// which no name needs and which the database or a terminal may mishandle.
func cleanLine(s string) (clean string, ok bool) {
	if !utf8.ValidString(s) {
		return strings.TrimSpace(strings.ToValidUTF8(s, "")), false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return strings.TrimSpace(s), false
		}
	}
	return strings.Join(strings.Fields(s), " "), true
}

// cleanText prepares a multi-line value such as a description: line breaks
// are kept (as \n), the ends trimmed, other control characters refused.
func cleanText(s string) (clean string, ok bool) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	if !utf8.ValidString(s) {
		return strings.TrimSpace(strings.ToValidUTF8(s, "")), false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return strings.TrimSpace(s), false
		}
	}
	return strings.TrimSpace(s), true
}

const controlCharacterMessage = "Remove the invisible control characters from this text."

// cleanLines cleans one-line fields in place, noting those that hold
// control characters. A later length check may replace the note; either
// way the input is refused.
func cleanLines(errs FieldErrors, fields map[string]*string) {
	for name, v := range fields {
		clean, ok := cleanLine(*v)
		*v = clean
		if !ok {
			errs[name] = controlCharacterMessage
		}
	}
}

// searchable is what a person typed into a search or lookup, kept to what
// the database can compare: invalid UTF-8 and control characters (a NUL
// fails a Postgres query outright) are dropped, white space collapsed.
func searchable(s string) string {
	return strings.Join(strings.Fields(controlsToSpaces(strings.ToValidUTF8(s, ""))), " ")
}

// controlsToSpaces turns every control character of s into a space.
func controlsToSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
