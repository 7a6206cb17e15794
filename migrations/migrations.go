// Package migrations holds Canopy's versioned SQL schema, one set per database
// dialect, embedded in the binary so `canopy migrate` needs no files on disk.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// For returns the migrations of one dialect: "postgres" or "sqlite".
func For(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}
