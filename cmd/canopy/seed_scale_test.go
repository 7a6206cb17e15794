package main

import (
	"io"
	"strings"
	"testing"
)

// TestSeedScaleRefusesSQLite: the scale data is for PostgreSQL only, and the
// command says so instead of loading a million rows into the SQLite file.
func TestSeedScaleRefusesSQLite(t *testing.T) {
	t.Setenv("CANOPY_DATA_DIR", t.TempDir())
	t.Setenv("DATABASE_URL", "")
	t.Setenv("DATABASE_OWNER_URL", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"seed", "--scale"}, "PostgreSQL only"},
		{[]string{"seed", "--scale", "--demo"}, "one of"},
		{[]string{"seed"}, "one of"},
	} {
		err := run(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error saying %q", c.args, err, c.want)
		}
	}
}
