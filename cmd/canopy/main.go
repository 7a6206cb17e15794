// Command canopy is the one Canopy binary: `canopy serve`, `canopy migrate`,
// `canopy seed --demo`, `canopy billing`, `canopy devidp` and `canopy webhook-receiver`. Configuration comes from the
// environment (see README.md).
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"gorm.io/gorm"

	"canopy/internal/config"
	"canopy/models"
)

const usage = `Canopy — multi-tenant SaaS dashboard

Usage:
  canopy serve [--seed-demo-if-empty]   migrate, then serve HTTP on $CANOPY_ADDR
  canopy migrate                         bring the database schema up to date
  canopy seed --demo [--if-empty]        load the demo data (safe to repeat)
  canopy seed --scale [--create-database | --recreate-database]
                                         load the large benchmark data (PostgreSQL; make bench-data)
  canopy billing rebuild --month 2026-11 [--apply]
                                         compare the month's kept daily billing figures with those derived
                                         from orders and intervals; fails on differences unless --apply
                                         replaced them (closed months are skipped)
  canopy billing close --month 2026-11 [--force]
                                         close the month into statements now (serve's closing job does it
                                         once the month has ended everywhere; --force before that)
  canopy devidp [--addr 127.0.0.1:9998] [--client-id canopy-dev] [--client-secret canopy-dev-secret]
                                         serve the development OpenID Connect provider (make devidp)
  canopy webhook-receiver [--addr 127.0.0.1:9997] [--secret whsec_…]
                                         print the webhooks delivered to it, verified (make webhook-receiver)

Configuration is read from the environment; see README.md.
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "canopy:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(out, usage)
		return nil
	}
	switch args[0] {
	case "devidp":
		return devIDP(args[1:], out)
	case "webhook-receiver":
		return webhookReceiver(args[1:], out)
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := newLogger(cfg, out)
	switch args[0] {
	case "serve":
		return serve(cfg, log, args[1:])
	case "migrate":
		return migrate(cfg, log)
	case "seed":
		return seed(cfg, log, args[1:])
	case "billing":
		return billing(cfg, log, args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprint(out, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
}

func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
}

// openDatabase brings the schema up to date and connects as the server: to
// Postgres when DATABASE_URL is set, migrating over DATABASE_OWNER_URL when
// that is given; else to the embedded SQLite file. Over the connection that
// migrates — the owner's — it writes the key the server signs its scopes
// with (scopeKey; nil for none), which the server's own role cannot.
func openDatabase(ctx context.Context, cfg *config.Config, scopeKey []byte, log *slog.Logger) (*gorm.DB, error) {
	if !cfg.UsesPostgres() {
		db, err := models.OpenSQLite(cfg.SQLitePath())
		if err != nil {
			return nil, err
		}
		return db, migrateOrClose(ctx, db, scopeKey, log)
	}
	if cfg.MigrationDatabaseURL() != cfg.DatabaseURL {
		owner, err := models.OpenPostgres(cfg.MigrationDatabaseURL())
		if err != nil {
			return nil, fmt.Errorf("owner connection: %w", err)
		}
		err = migrateOrClose(ctx, owner, scopeKey, log)
		if err != nil {
			return nil, err
		}
		_ = models.Close(owner)
	}
	db, err := models.OpenPostgres(cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.MigrationDatabaseURL() == cfg.DatabaseURL {
		if err := migrateOrClose(ctx, db, scopeKey, log); err != nil {
			return nil, err
		}
	}
	return db, nil
}

func migrateOrClose(ctx context.Context, db *gorm.DB, scopeKey []byte, log *slog.Logger) error {
	err := models.Migrate(ctx, db, log)
	if err == nil && scopeKey != nil {
		err = models.ProvisionScopeKey(ctx, db, scopeKey)
	}
	if err != nil {
		_ = models.Close(db)
		return err
	}
	return nil
}
