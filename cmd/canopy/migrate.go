package main

import (
	"context"
	"log/slog"

	"canopy/internal/config"
	"canopy/models"
)

// migrate brings the schema up to date, gives the database the key of the
// server's signed scope, and exits.
func migrate(cfg *config.Config, log *slog.Logger) error {
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return err
	}
	db, err := openDatabase(context.Background(), cfg, secrets.DatabaseScope, log)
	if err != nil {
		return err
	}
	defer models.Close(db)
	log.Info("database schema is up to date", "database", models.DialectOf(db))
	return nil
}
