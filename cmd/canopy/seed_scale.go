package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/internal/config"
	"canopy/internal/scale"
	"canopy/models"
)

// scaleOptions are the seed flags of the large benchmark data set.
type scaleOptions struct {
	load, createDatabase, recreateDatabase *bool
}

func addScaleFlags(flags *flag.FlagSet) scaleOptions {
	return scaleOptions{
		load:           flags.Bool("scale", false, "load the large benchmark platform (PostgreSQL only; see make bench-data)"),
		createDatabase: flags.Bool("create-database", false, "with --scale: create the database named in the URL when it does not exist"),
		recreateDatabase: flags.Bool("recreate-database", false,
			"with --scale: drop the database named in the URL and create it afresh, to reload the scale data"),
	}
}

// seedScale loads the benchmark platform (internal/scale). It needs a role
// that bypasses row-level security, so it connects with DATABASE_OWNER_URL
// when set and DATABASE_URL otherwise. A second run finds the data present
// and changes nothing.
func seedScale(ctx context.Context, cfg *config.Config, log *slog.Logger, opts scaleOptions) error {
	dbURL := cfg.MigrationDatabaseURL()
	if dbURL == "" {
		return errors.New("seed --scale loads into PostgreSQL only, and DATABASE_URL is empty (SQLite): " +
			"set DATABASE_URL (or DATABASE_OWNER_URL) to a postgres:// URL, or run make bench-data")
	}
	if !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
		return errors.New("seed --scale: DATABASE_OWNER_URL must be a postgres:// URL")
	}
	started := time.Now()
	if *opts.createDatabase || *opts.recreateDatabase {
		if err := ensureDatabase(ctx, dbURL, *opts.recreateDatabase, log); err != nil {
			return err
		}
	}
	// Migrate as the owner, with the same code as `canopy migrate`.
	ownerCfg := *cfg
	ownerCfg.DatabaseURL = dbURL
	// No scope key: loading serves nothing, and serve writes its own.
	db, err := openDatabase(ctx, &ownerCfg, nil, log)
	if err != nil {
		return err
	}
	_ = models.Close(db)

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	loaded, err := scale.Load(ctx, conn, scale.Full(), log)
	if err != nil {
		return err
	}
	if !loaded {
		log.Info("scale data already present (tenant scale exists); nothing loaded. To reload: canopy seed --scale --recreate-database",
			"database", conn.Config().Database, "took", time.Since(started).Round(time.Millisecond))
	}
	return nil
}

// ensureDatabase creates the database named in dbURL, through the server's
// `postgres` maintenance database, when it is missing (and drops it first
// when recreate is set). The bench data lives in a database of its own.
func ensureDatabase(ctx context.Context, dbURL string, recreate bool, log *slog.Logger) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	switch name {
	case "", "postgres", "template0", "template1":
		return fmt.Errorf("refusing to create or drop the database %q: name a database of its own, e.g. /canopy_bench", name)
	}
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("connect to the postgres maintenance database: %w", err)
	}
	defer admin.Close(ctx)
	quoted := pgx.Identifier{name}.Sanitize()
	if recreate {
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+quoted+` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		log.Info("database dropped", "database", name)
	}
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+quoted); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	log.Info("database created", "database", name)
	return nil
}
