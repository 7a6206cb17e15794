// Package config reads Canopy's settings from the environment, validates them
// in one place and hands the rest of the program a ready-to-use Config.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is every setting Canopy reads. Zero values are never used: Load fills defaults.
type Config struct {
	Addr        string   // CANOPY_ADDR
	BaseURL     *url.URL // CANOPY_BASE_URL: scheme and host of the bare (sign-in) domain
	DataDir     string   // CANOPY_DATA_DIR
	DatabaseURL string   // DATABASE_URL: empty means SQLite in DataDir
	// OwnerDatabaseURL connects as the tables' owner, for migrations and
	// seeding; the server's own DatabaseURL should be a member of canopy_app,
	// which row-level security applies to. Empty means DatabaseURL.
	OwnerDatabaseURL string // DATABASE_OWNER_URL
	SessionKey       string // CANOPY_SESSION_KEY: empty means a key generated once into DataDir
	LogLevel         string // CANOPY_LOG_LEVEL
	// TrustedProxies are the networks whose X-Forwarded-For is believed.
	// Empty means the TCP peer address is the client address.
	TrustedProxies []*net.IPNet // CANOPY_TRUSTED_PROXIES

	SMTP SMTP

	// SSOPrivateNetworks are the private networks an https deployment may
	// reach identity providers on (an intranet's own provider). Empty: only
	// public addresses. A development server on http reaches any.
	SSOPrivateNetworks []*net.IPNet // CANOPY_SSO_PRIVATE_NETWORKS

	// WebhookAllowedNetworks are the networks webhook endpoints may be
	// delivered to although they are loopback, private or shared (an
	// intranet's receiver). Empty: only public addresses. A development
	// server (http) defaults to loopback, so the demo's receiver works.
	WebhookAllowedNetworks []*net.IPNet // CANOPY_WEBHOOK_ALLOWED_NETWORKS
	// WebhookHTTPHosts are the hosts a production webhook endpoint may
	// reach over plain http; every other production endpoint needs https.
	WebhookHTTPHosts []string // CANOPY_WEBHOOK_HTTP_HOSTS

	// DNSResolver is the DNS server ("host:port") that single sign-on's
	// domain checks ask for TXT records; empty means the system's.
	DNSResolver string // CANOPY_DNS_RESOLVER

	ShutdownTimeout time.Duration // CANOPY_SHUTDOWN_TIMEOUT
	// DrainDelay is how long serve keeps answering after SIGTERM while
	// /readyz says it is draining, so a load balancer's health checks take
	// it out of rotation before it stops accepting connections. Zero stops
	// at once (a single instance, or a balancer told some other way).
	DrainDelay time.Duration // CANOPY_DRAIN_DELAY

	// MetricsAddr is where Prometheus metrics are served ("host:port",
	// GET /metrics), on a listener apart from the site's; empty: none.
	MetricsAddr string // CANOPY_METRICS_ADDR
}

// SMTP holds the outgoing mail settings. An empty Host means mail is written
// to DataDir/mail instead of being sent, so development needs no mail server.
type SMTP struct {
	Host     string // CANOPY_SMTP_HOST
	Port     int    // CANOPY_SMTP_PORT
	Username string // CANOPY_SMTP_USERNAME
	Password string // CANOPY_SMTP_PASSWORD
	From     string // CANOPY_SMTP_FROM
}

// Defaults are the development settings: `make run` needs no environment at all.
const (
	DefaultAddr    = ":8080"
	DefaultBaseURL = "http://localhost:8080"
	DefaultDataDir = "./data"
	DefaultFrom    = "Canopy <no-reply@canopy.localhost>"
)

// Load reads the configuration from the process environment.
func Load() (*Config, error) {
	return Parse(os.LookupEnv)
}

// Parse reads the configuration through lookup, so tests need not touch the
// real environment. All problems are reported together.
func Parse(lookup func(string) (string, bool)) (*Config, error) {
	get := func(key, fallback string) string {
		if v, ok := lookup(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return fallback
	}
	var errs []error
	cfg := &Config{
		Addr:             get("CANOPY_ADDR", DefaultAddr),
		DataDir:          get("CANOPY_DATA_DIR", DefaultDataDir),
		DatabaseURL:      get("DATABASE_URL", ""),
		OwnerDatabaseURL: get("DATABASE_OWNER_URL", ""),
		SessionKey:       get("CANOPY_SESSION_KEY", ""),
		LogLevel:         strings.ToLower(get("CANOPY_LOG_LEVEL", "info")),
		DNSResolver:      get("CANOPY_DNS_RESOLVER", ""),
		MetricsAddr:      get("CANOPY_METRICS_ADDR", ""),
		SMTP: SMTP{
			Host:     get("CANOPY_SMTP_HOST", ""),
			Username: get("CANOPY_SMTP_USERNAME", ""),
			Password: get("CANOPY_SMTP_PASSWORD", ""),
			From:     get("CANOPY_SMTP_FROM", DefaultFrom),
		},
	}

	base, err := ParseBaseURL(get("CANOPY_BASE_URL", DefaultBaseURL))
	if err != nil {
		errs = append(errs, fmt.Errorf("CANOPY_BASE_URL: %w", err))
	}
	cfg.BaseURL = base

	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		errs = append(errs, fmt.Errorf("CANOPY_ADDR: %q is not host:port: %w", cfg.Addr, err))
	}

	if cfg.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("CANOPY_METRICS_ADDR: %q is not host:port: %w", cfg.MetricsAddr, err))
		} else if cfg.MetricsAddr == cfg.Addr {
			errs = append(errs, fmt.Errorf("CANOPY_METRICS_ADDR: %q is CANOPY_ADDR; metrics need a listener of their own, kept off the public site", cfg.MetricsAddr))
		}
	}

	port, err := strconv.Atoi(get("CANOPY_SMTP_PORT", "587"))
	if err != nil || port < 1 || port > 65535 {
		errs = append(errs, fmt.Errorf("CANOPY_SMTP_PORT: %q is not a port number", get("CANOPY_SMTP_PORT", "")))
	}
	cfg.SMTP.Port = port
	if _, err := mail.ParseAddress(cfg.SMTP.From); err != nil {
		errs = append(errs, fmt.Errorf("CANOPY_SMTP_FROM: %w", err))
	}

	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("CANOPY_LOG_LEVEL: %q is not one of debug, info, warn, error", cfg.LogLevel))
	}

	if cfg.DatabaseURL != "" && !isPostgresURL(cfg.DatabaseURL) {
		errs = append(errs, errors.New("DATABASE_URL: only postgres:// URLs are supported (leave it empty for SQLite)"))
	}
	switch {
	case cfg.OwnerDatabaseURL != "" && cfg.DatabaseURL == "":
		errs = append(errs, errors.New("DATABASE_OWNER_URL: set DATABASE_URL too (SQLite has no owner role)"))
	case cfg.OwnerDatabaseURL != "" && !isPostgresURL(cfg.OwnerDatabaseURL):
		errs = append(errs, errors.New("DATABASE_OWNER_URL: only postgres:// URLs are supported"))
	}

	if cfg.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(cfg.DNSResolver); err != nil {
			errs = append(errs, fmt.Errorf("CANOPY_DNS_RESOLVER: %q is not host:port: %w", cfg.DNSResolver, err))
		}
	}

	timeout, err := time.ParseDuration(get("CANOPY_SHUTDOWN_TIMEOUT", "15s"))
	if err != nil || timeout <= 0 {
		errs = append(errs, fmt.Errorf("CANOPY_SHUTDOWN_TIMEOUT: %q is not a positive duration", get("CANOPY_SHUTDOWN_TIMEOUT", "")))
	}
	cfg.ShutdownTimeout = timeout

	drain, err := time.ParseDuration(get("CANOPY_DRAIN_DELAY", "5s"))
	if err != nil || drain < 0 {
		errs = append(errs, fmt.Errorf("CANOPY_DRAIN_DELAY: %q is not a duration of zero or more", get("CANOPY_DRAIN_DELAY", "")))
	}
	cfg.DrainDelay = drain

	if cfg.SSOPrivateNetworks, err = parseNetworks("CANOPY_SSO_PRIVATE_NETWORKS", get("CANOPY_SSO_PRIVATE_NETWORKS", "")); err != nil {
		errs = append(errs, err)
	}
	webhookNetworks := get("CANOPY_WEBHOOK_ALLOWED_NETWORKS", "")
	if webhookNetworks == "" && base != nil && base.Scheme != "https" {
		webhookNetworks = DevelopmentWebhookNetworks
	}
	if cfg.WebhookAllowedNetworks, err = parseNetworks("CANOPY_WEBHOOK_ALLOWED_NETWORKS", webhookNetworks); err != nil {
		errs = append(errs, err)
	}
	if cfg.WebhookHTTPHosts, err = parseHosts("CANOPY_WEBHOOK_HTTP_HOSTS", get("CANOPY_WEBHOOK_HTTP_HOSTS", "")); err != nil {
		errs = append(errs, err)
	}
	if cfg.TrustedProxies, err = parseNetworks("CANOPY_TRUSTED_PROXIES", get("CANOPY_TRUSTED_PROXIES", "")); err != nil {
		errs = append(errs, err)
	}

	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseNetworks reads a comma-separated list of CIDRs; every bad one is
// reported under the variable's name.
func parseNetworks(name, raw string) ([]*net.IPNet, error) {
	var networks []*net.IPNet
	var errs []error
	for _, cidr := range strings.Split(raw, ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		networks = append(networks, network)
	}
	return networks, errors.Join(errs...)
}

// DevelopmentWebhookNetworks is where a development server (http) delivers
// webhooks when CANOPY_WEBHOOK_ALLOWED_NETWORKS is not set: loopback, where
// `canopy webhook-receiver` listens.
const DevelopmentWebhookNetworks = "127.0.0.0/8,::1/128"

// parseHosts reads a comma-separated list of host names (no scheme, port or
// path), lower-cased.
func parseHosts(name, raw string) ([]string, error) {
	var hosts []string
	var errs []error
	for _, host := range strings.Split(raw, ",") {
		host = strings.ToLower(strings.TrimSpace(host))
		if host == "" {
			continue
		}
		if strings.ContainsAny(host, ":/@ ") && net.ParseIP(host) == nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a host name (no scheme, port or path)", name, host))
			continue
		}
		hosts = append(hosts, host)
	}
	return hosts, errors.Join(errs...)
}

// ParseBaseURL accepts an http(s) URL with a host and nothing else: tenant
// addresses are built by prefixing its host, so a path or query would be lost.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q must start with http:// or https://", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%q has no host", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q must be only a scheme and host (no path, query or credentials)", raw)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("%q is an IP address; tenants need a domain name for their subdomains", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: strings.ToLower(u.Host)}, nil
}

// ErrSessionKeyRequired refuses to serve PostgreSQL at a public address
// with a generated session key (ValidateForServe).
var ErrSessionKeyRequired = errors.New("CANOPY_SESSION_KEY must be set when serving PostgreSQL at an address that is not local: " +
	"without it each instance generates a key of its own into its own data directory, so sessions and sign-in hand-offs " +
	"signed by one instance would not verify on another behind the same load balancer; generate one with `openssl rand -base64 48` " +
	"and give every instance the same")

// ValidateForServe checks what serving needs beyond Parse: with several
// instances on one PostgreSQL database (anything but a local address),
// every instance must sign with the same key, which only
// CANOPY_SESSION_KEY gives them. A deployment that has been running on a
// key generated into its data directory is told to set that key, never to
// make a new one: every secret derives from it (API keys' hashes, sealed
// second factors, single sign-on and webhook secrets), and a new key would
// lose them all.
func (c *Config) ValidateForServe() error {
	if !c.UsesPostgres() || c.SessionKey != "" || IsLocalHost(c.BaseURL.Hostname()) {
		return nil
	}
	generated := filepath.Join(c.DataDir, secretFile)
	if _, err := os.Stat(generated); err == nil {
		return fmt.Errorf("CANOPY_SESSION_KEY must be set when serving PostgreSQL at an address that is not local, so that "+
			"every instance signs with the same key. This deployment has been running on the key generated into %s: "+
			"set CANOPY_SESSION_KEY to that file's contents, on every instance (a new key would make every API key, "+
			"second factor, single sign-on and webhook secret unusable)", generated)
	}
	return ErrSessionKeyRequired
}

// IsLocalHost tells whether host names this machine only: localhost, a
// name under .localhost, or a loopback address.
func IsLocalHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Secure tells whether Canopy is served over https, which decides cookie flags and HSTS.
func (c *Config) Secure() bool { return c.BaseURL.Scheme == "https" }

// TenantURL is the address of a tenant's subdomain, built from the configured
// base URL (never from a request's Host header, which a client controls).
func (c *Config) TenantURL(subdomain, path string) string {
	u := url.URL{Scheme: c.BaseURL.Scheme, Host: subdomain + "." + c.BaseURL.Host, Path: path}
	return u.String()
}

// BaseLink is an address on the bare base domain.
func (c *Config) BaseLink(path string, query url.Values) string {
	u := url.URL{Scheme: c.BaseURL.Scheme, Host: c.BaseURL.Host, Path: path, RawQuery: query.Encode()}
	return u.String()
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// MigrationDatabaseURL is the connection migrations and seeding use: the
// owner's when given, else the server's own.
func (c *Config) MigrationDatabaseURL() string {
	if c.OwnerDatabaseURL != "" {
		return c.OwnerDatabaseURL
	}
	return c.DatabaseURL
}

// SQLitePath is where the embedded database lives when DATABASE_URL is empty.
func (c *Config) SQLitePath() string { return filepath.Join(c.DataDir, "canopy.db") }

// UsesPostgres tells which database the configuration selects.
func (c *Config) UsesPostgres() bool { return c.DatabaseURL != "" }
