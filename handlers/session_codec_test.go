package handlers_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/securecookie"

	"canopy/handlers"
)

// TestSessionSerializer: a session's values come back from its cookie with
// the types they went in with, whichever the session holds; a cookie
// written with gob before still reads; a value of another type is refused
// when the session is saved, never written as something else.
func TestSessionSerializer(t *testing.T) {
	codec := handlers.SessionSerializerForTest{}
	cases := []struct {
		name   string
		values map[any]any
	}{
		{"empty", map[any]any{}},
		{"signed in", map[any]any{"uid": int64(9007199254740993), "sid": int64(7), "host": "acme.localhost:8080", "csrf": "tok", "role": "super_admin"}},
		{"flashes and marks", map[any]any{"_flash": []any{"success\x00Saved.", "error\x00No."}, "first": true, "2fa_at": int64(-5), "forms": ""}},
		{"no flashes left", map[any]any{"_flash": []any{}}},
		{"text that looks like JSON", map[any]any{"sso_link": `{"a":1}`, "s:odd": "key with a colon"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			encoded, err := codec.Serialize(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			got := map[any]any{}
			if err := codec.Deserialize(encoded, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.values) {
				t.Fatalf("round trip\n got %#v\nwant %#v", got, tc.values)
			}
			// The same values written by gob, as cookies were before.
			gob := securecookie.GobEncoder{}
			old, err := gob.Serialize(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			fromGob, byGob := make(map[any]any), make(map[any]any)
			if err := gob.Deserialize(old, &byGob); err != nil {
				t.Fatal(err)
			}
			if err := codec.Deserialize(old, &fromGob); err != nil || !reflect.DeepEqual(fromGob, byGob) {
				t.Fatalf("a gob cookie: %#v, %v; gob itself reads %#v", fromGob, err, byGob)
			}
		})
	}
	for name, values := range map[string]map[any]any{
		"an int":             {"n": 1},
		"a float":            {"n": 1.5},
		"a list of numbers":  {"l": []any{int64(1)}},
		"a key not a string": {int64(1): "x"},
	} {
		if _, err := codec.Serialize(values); err == nil {
			t.Errorf("%s: written", name)
		}
	}
	for _, garbage := range []string{`{"x":1}`, `{"q:x":1}`, `{"i:x":"1"}`, `{`} {
		if err := codec.Deserialize([]byte(garbage), &map[any]any{}); err == nil || strings.TrimSpace(err.Error()) == "" {
			t.Errorf("%s: read", garbage)
		}
	}
}
