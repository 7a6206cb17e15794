package models

import "testing"

// TestWithConnectTimeout: a connection string without connect_timeout gets
// the default; one that has it keeps its own.
func TestWithConnectTimeout(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u@db/canopy":                               "postgres://u@db/canopy?connect_timeout=5",
		"postgres://u@db/canopy?sslmode=disable":               "postgres://u@db/canopy?connect_timeout=5&sslmode=disable",
		"postgres://u@db/canopy?connect_timeout=30":            "postgres://u@db/canopy?connect_timeout=30",
		"postgresql://u:p%40ss@db:5433/canopy?sslmode=require": "postgresql://u:p%40ss@db:5433/canopy?connect_timeout=5&sslmode=require",
		"host=db user=u dbname=canopy":                         "host=db user=u dbname=canopy connect_timeout=5",
		"host=db user=u connect_timeout=2":                     "host=db user=u connect_timeout=2",
	} {
		if got := withConnectTimeout(in); got != want {
			t.Errorf("withConnectTimeout(%q) = %q, want %q", in, got, want)
		}
	}
}
