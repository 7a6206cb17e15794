package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(pairs map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := pairs[k]; return v, ok }
}

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"addr", cfg.Addr, ":8080"},
		{"base", cfg.BaseURL.String(), "http://localhost:8080"},
		{"data", cfg.DataDir, "./data"},
		{"sqlite", cfg.SQLitePath(), "data/canopy.db"},
		{"tenant url", cfg.TenantURL("acme", "/"), "http://acme.localhost:8080/"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.UsesPostgres() || cfg.Secure() || cfg.ShutdownTimeout != 15*time.Second || cfg.DrainDelay != 5*time.Second || cfg.SMTP.Port != 587 {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
}

func TestParseValues(t *testing.T) {
	cfg, err := Parse(env(map[string]string{
		"CANOPY_ADDR":            "127.0.0.1:9000",
		"CANOPY_BASE_URL":        "https://Canopy.Example.com",
		"DATABASE_URL":           "postgres://u@db/canopy",
		"CANOPY_SMTP_HOST":       "smtp.example.com",
		"CANOPY_SMTP_PORT":       "2525",
		"CANOPY_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1/32",
		"CANOPY_DRAIN_DELAY":     "0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Secure() || cfg.TenantURL("acme", "/x") != "https://acme.canopy.example.com/x" {
		t.Errorf("base URL not honoured: %s", cfg.TenantURL("acme", "/x"))
	}
	if !cfg.UsesPostgres() || cfg.SMTP.Port != 2525 || len(cfg.TrustedProxies) != 2 || cfg.DrainDelay != 0 {
		t.Errorf("values not read: %+v", cfg)
	}
	if cfg.MigrationDatabaseURL() != "postgres://u@db/canopy" {
		t.Errorf("migrations should use DATABASE_URL without an owner URL, got %q", cfg.MigrationDatabaseURL())
	}
}

func TestOwnerURLRunsMigrations(t *testing.T) {
	cfg, err := Parse(env(map[string]string{
		"DATABASE_URL":       "postgres://canopy@db/canopy",
		"DATABASE_OWNER_URL": "postgres://owner@db/canopy",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MigrationDatabaseURL() != "postgres://owner@db/canopy" || cfg.DatabaseURL != "postgres://canopy@db/canopy" {
		t.Errorf("owner URL not used for migrations: %+v", cfg)
	}
	if _, err := Parse(env(map[string]string{"DATABASE_URL": "postgres://a@db/x", "DATABASE_OWNER_URL": "mysql://x"})); err == nil {
		t.Error("a non-postgres owner URL was accepted")
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		key, value, want string
	}{
		{"CANOPY_BASE_URL", "ftp://example.com", "CANOPY_BASE_URL"},
		{"CANOPY_BASE_URL", "http://example.com/app", "no path"},
		{"CANOPY_BASE_URL", "http://127.0.0.1:8080", "IP address"},
		{"CANOPY_BASE_URL", "http://", "no host"},
		{"CANOPY_ADDR", "8080", "CANOPY_ADDR"},
		{"CANOPY_SMTP_PORT", "seventy", "CANOPY_SMTP_PORT"},
		{"CANOPY_SMTP_PORT", "70000", "CANOPY_SMTP_PORT"},
		{"CANOPY_SMTP_FROM", "not an address", "CANOPY_SMTP_FROM"},
		{"CANOPY_LOG_LEVEL", "loud", "CANOPY_LOG_LEVEL"},
		{"DATABASE_URL", "mysql://x", "DATABASE_URL"},
		{"DATABASE_OWNER_URL", "postgres://owner@db/canopy", "set DATABASE_URL too"},
		{"CANOPY_SHUTDOWN_TIMEOUT", "-1s", "CANOPY_SHUTDOWN_TIMEOUT"},
		{"CANOPY_DRAIN_DELAY", "-1s", "CANOPY_DRAIN_DELAY"},
		{"CANOPY_DRAIN_DELAY", "soon", "CANOPY_DRAIN_DELAY"},
		{"CANOPY_TRUSTED_PROXIES", "10.0.0.0/99", "CANOPY_TRUSTED_PROXIES"},
		{"CANOPY_DNS_RESOLVER", "127.0.0.1", "CANOPY_DNS_RESOLVER"},
		{"CANOPY_SSO_PRIVATE_NETWORKS", "10.0.0.0/99", "CANOPY_SSO_PRIVATE_NETWORKS"},
		{"CANOPY_WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/99", "CANOPY_WEBHOOK_ALLOWED_NETWORKS"},
		{"CANOPY_WEBHOOK_HTTP_HOSTS", "http://hooks.example", "CANOPY_WEBHOOK_HTTP_HOSTS"},
		{"CANOPY_METRICS_ADDR", "9090", "CANOPY_METRICS_ADDR"},
		{"CANOPY_METRICS_ADDR", "http://127.0.0.1:9090/metrics", "CANOPY_METRICS_ADDR"},
		{"CANOPY_METRICS_ADDR", ":8080", "a listener of their own"},
	}
	for _, c := range cases {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			_, err := Parse(env(map[string]string{c.key: c.value}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want mention of %q", err, c.want)
			}
		})
	}
}

func TestSecretsGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse(env(map[string]string{"CANOPY_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	first, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	second, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if string(first.SessionHash) != string(second.SessionHash) || string(first.Handoff) != string(second.Handoff) ||
		string(first.Device) != string(second.Device) || string(first.DatabaseScope) != string(second.DatabaseScope) {
		t.Fatal("secrets changed between loads; sessions would not survive a restart")
	}
	keys := []string{string(first.SessionHash), string(first.SessionBlock), string(first.Handoff), string(first.Device), string(first.DatabaseScope)}
	slices.Sort(keys)
	if len(slices.Compact(keys)) != 5 || len(first.DatabaseScope) < 32 {
		t.Fatal("derived keys must differ per purpose")
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	cfg, _ := Parse(env(map[string]string{"CANOPY_SESSION_KEY": "c2hvcnQ="}))
	if _, err := cfg.LoadSecrets(); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short key accepted: %v", err)
	}
	cfg, _ = Parse(env(map[string]string{"CANOPY_SESSION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "CANOPY_DATA_DIR": t.TempDir()}))
	if _, err := cfg.LoadSecrets(); err != nil {
		t.Fatal(err)
	}
}

// Webhooks reach loopback on a development server (the demo's receiver)
// and only public addresses on an https one, unless the operator says more.
func TestWebhookNetworks(t *testing.T) {
	cases := []struct {
		name     string
		vars     map[string]string
		want     []string
		httpHost []string
	}{
		{"development", map[string]string{}, []string{"127.0.0.0/8", "::1/128"}, nil},
		{"https", map[string]string{"CANOPY_BASE_URL": "https://canopy.example"}, nil, nil},
		{"https with an intranet", map[string]string{"CANOPY_BASE_URL": "https://canopy.example",
			"CANOPY_WEBHOOK_ALLOWED_NETWORKS": "10.20.0.0/16", "CANOPY_WEBHOOK_HTTP_HOSTS": "Hooks.Intranet, 10.20.0.5"},
			[]string{"10.20.0.0/16"}, []string{"hooks.intranet", "10.20.0.5"}},
		{"development, chosen", map[string]string{"CANOPY_WEBHOOK_ALLOWED_NETWORKS": "192.168.0.0/16"}, []string{"192.168.0.0/16"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(env(c.vars))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range cfg.WebhookAllowedNetworks {
				got = append(got, n.String())
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("networks %v, want %v", got, c.want)
			}
			if strings.Join(cfg.WebhookHTTPHosts, ",") != strings.Join(c.httpHost, ",") {
				t.Errorf("http hosts %v, want %v", cfg.WebhookHTTPHosts, c.httpHost)
			}
		})
	}
}

// TestValidateForServe: PostgreSQL at a public address needs a session key
// every instance shares; SQLite and local addresses generate their own.
func TestValidateForServe(t *testing.T) {
	const pg = "postgres://u@db/canopy"
	for _, c := range []struct {
		name    string
		vars    map[string]string
		refused bool
	}{
		{"postgres, public, no key", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "https://canopy.example.com"}, true},
		{"postgres, public on http, no key", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "http://canopy.internal:8080"}, true},
		{"postgres, a key of blanks is none", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "https://canopy.example.com", "CANOPY_SESSION_KEY": "   "}, true},
		{"postgres, a name merely ending in localhost", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "https://notlocalhost.com"}, true},
		{"postgres, public, a key", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "https://canopy.example.com", "CANOPY_SESSION_KEY": "k"}, false},
		{"postgres, localhost", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "http://localhost:8080"}, false},
		{"postgres, a .localhost name", map[string]string{"DATABASE_URL": pg, "CANOPY_BASE_URL": "http://canopy.localhost:8080"}, false},
		{"postgres, the default address", map[string]string{"DATABASE_URL": pg}, false},
		{"sqlite, public, no key", map[string]string{"CANOPY_BASE_URL": "https://canopy.example.com"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(env(c.vars))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.ValidateForServe()
			if refused := err != nil; refused != c.refused {
				t.Fatalf("ValidateForServe() = %v, want refused %v", err, c.refused)
			}
			if c.refused && !strings.Contains(err.Error(), "CANOPY_SESSION_KEY") {
				t.Fatalf("the refusal does not name the setting: %v", err)
			}
		})
	}
}

// TestValidateForServeKeepsAGeneratedKey: a deployment that has been
// running on the key generated into its data directory is refused too, but
// told to set that key, never to make a new one, which would lose every
// secret derived from it.
func TestValidateForServeKeepsAGeneratedKey(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse(env(map[string]string{"DATABASE_URL": "postgres://u@db/canopy",
		"CANOPY_BASE_URL": "https://canopy.example.com", "CANOPY_DATA_DIR": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.LoadSecrets(); err != nil { // what the deployment has been running on
		t.Fatal(err)
	}
	err = cfg.ValidateForServe()
	if err == nil {
		t.Fatal("served PostgreSQL at a public address without CANOPY_SESSION_KEY")
	}
	msg := err.Error()
	if !strings.Contains(msg, filepath.Join(dir, "session.key")) || strings.Contains(msg, "openssl rand") {
		t.Fatalf("the refusal should name the generated key's file and not suggest a new key: %v", err)
	}
}

func TestIsLocalHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "acme.localhost": true, "localhost.": true,
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"example.com": false, "localhost.example.com": false, "mylocalhost": false, "10.0.0.1": false, "": false,
	} {
		if got := IsLocalHost(host); got != want {
			t.Errorf("IsLocalHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestMetricsAddr: metrics are off unless an address is given, and then
// served on it.
func TestMetricsAddr(t *testing.T) {
	for value, want := range map[string]string{"": "", "   ": "", "127.0.0.1:9090": "127.0.0.1:9090", ":9090": ":9090"} {
		cfg, err := Parse(env(map[string]string{"CANOPY_METRICS_ADDR": value}))
		if err != nil {
			t.Fatalf("%q: %v", value, err)
		}
		if cfg.MetricsAddr != want {
			t.Errorf("CANOPY_METRICS_ADDR=%q: MetricsAddr %q, want %q", value, cfg.MetricsAddr, want)
		}
	}
}
