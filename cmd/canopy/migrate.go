package main

import (
	"context"
	"log/slog"

	"canopy/internal/config"
	"canopy/models"
)

// migrate brings the schema up to date and exits.
func migrate(cfg *config.Config, log *slog.Logger) error {
	db, err := openDatabase(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	defer models.Close(db)
	log.Info("database schema is up to date", "database", models.DialectOf(db))
	return nil
}
