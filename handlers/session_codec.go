package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gorilla/securecookie"
)

// sessionSerializer writes a session's values into its cookie as JSON, each
// key prefixed with its value's type ("i:uid", "s:host", "b:first", "l:_flash"),
// so that every value comes back with the type it went in with: an int64
// stays an int64, never JSON's float64. Gob, securecookie's default, decodes
// its type descriptions afresh for every cookie (a new decoder each time):
// about a tenth of the server's CPU for a page. A session holds only these
// four types; anything else is an error when the session is saved, which
// the handler tests would meet. A cookie written with gob before is still
// read with gob.
type sessionSerializer struct{}

func (sessionSerializer) Serialize(src any) ([]byte, error) {
	values, ok := src.(map[any]any)
	if !ok {
		return nil, fmt.Errorf("session values: a %T", src)
	}
	out := make(map[string]any, len(values))
	for k, v := range values {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("session key %v: not a string", k)
		}
		switch v := v.(type) {
		case string:
			out["s:"+key] = v
		case int64:
			out["i:"+key] = v
		case bool:
			out["b:"+key] = v
		case []any:
			list := make([]string, len(v))
			for i, item := range v {
				s, ok := item.(string)
				if !ok {
					return nil, fmt.Errorf("session value %s: a list of %T", key, item)
				}
				list[i] = s
			}
			out["l:"+key] = list
		default:
			return nil, fmt.Errorf("session value %s: a %T", key, v)
		}
	}
	return json.Marshal(out)
}

func (sessionSerializer) Deserialize(src []byte, dst any) error {
	values, ok := dst.(*map[any]any)
	if !ok {
		return fmt.Errorf("session values into a %T", dst)
	}
	if !bytes.HasPrefix(src, []byte("{")) {
		return securecookie.GobEncoder{}.Deserialize(src, dst)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(src, &raw); err != nil {
		return err
	}
	if *values == nil {
		*values = make(map[any]any, len(raw))
	}
	for typed, v := range raw {
		kind, key, ok := strings.Cut(typed, ":")
		if !ok {
			return fmt.Errorf("session key %q: no type", typed)
		}
		value, err := decodeSessionValue(kind, v)
		if err != nil {
			return fmt.Errorf("session value %s: %w", key, err)
		}
		(*values)[key] = value
	}
	return nil
}

func decodeSessionValue(kind string, raw json.RawMessage) (any, error) {
	switch kind {
	case "s":
		var s string
		return s, json.Unmarshal(raw, &s)
	case "i":
		var i int64
		return i, json.Unmarshal(raw, &i)
	case "b":
		var b bool
		return b, json.Unmarshal(raw, &b)
	case "l":
		var list []string
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, err
		}
		out := make([]any, len(list))
		for i, s := range list {
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown type %q", kind)
}
