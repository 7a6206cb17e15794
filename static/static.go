// Package static embeds Canopy's stylesheets, scripts and images in the
// binary and serves them with long-lived cache headers. Each URL carries a
// hash of the file's content, so a changed file gets a new URL.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
)

//go:embed css js img
var files embed.FS

// Prefix is where the files are served.
const Prefix = "/static/"

var (
	hashesOnce sync.Once
	hashes     map[string]string
)

func fileHashes() map[string]string {
	hashesOnce.Do(func() {
		hashes = map[string]string{}
		_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			hashes[p] = hex.EncodeToString(sum[:])[:12]
			return nil
		})
	})
	return hashes
}

// Path is the URL of a static file, e.g. Path("css/app.css"). It panics on a
// file that does not exist, so a typo fails the first test that renders it.
func Path(name string) string {
	h, ok := fileHashes()[name]
	if !ok {
		panic("static: no such file " + name)
	}
	return Prefix + name + "?v=" + h
}

// Handler serves the embedded files. A request carrying the current content
// hash may be cached for a year; anything else for a few minutes.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), Prefix)
		b, err := files.ReadFile(name)
		if err != nil || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		hash := fileHashes()[name]
		if v := r.URL.Query().Get("v"); v != "" && v == hash {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			w.Header().Set("Content-Type", ct)
		}
		w.Header().Set("ETag", `"`+hash+`"`)
		if r.Header.Get("If-None-Match") == `"`+hash+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(b) //nolint:gosec // G705: b is one of Canopy's own embedded files, not request data
	})
}
