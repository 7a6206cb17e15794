package main

import (
	"canopy/internal/apikey"
	"context"
	"errors"
	"flag"
	"log/slog"
	"time"

	"canopy/internal/config"
	"canopy/internal/demo"
	"canopy/internal/sealbox"
	"canopy/internal/webhook"
	"canopy/models"
)

// seed loads the demo data, or with --scale the benchmark data (seed_scale.go).
// With --if-empty it does nothing when any tenant exists, so `make run` never
// touches a database someone has been using.
func seed(cfg *config.Config, log *slog.Logger, args []string) error {
	flags := flag.NewFlagSet("seed", flag.ContinueOnError)
	withDemo := flags.Bool("demo", false, "load the demo companies and people")
	ifEmpty := flags.Bool("if-empty", false, "only when the database has no tenants yet")
	scaleOpts := addScaleFlags(flags) // seed_scale.go
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	if *scaleOpts.load && !*withDemo {
		return seedScale(ctx, cfg, log, scaleOpts)
	}
	if *withDemo == *scaleOpts.load {
		return errors.New("seed: say what to load, one of: canopy seed --demo, canopy seed --scale")
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, secrets.DatabaseScope, log)
	if err != nil {
		return err
	}
	defer models.Close(db)
	store, err := withWebhooks(models.NewStore(db).WithScopeKey(secrets.DatabaseScope), cfg, secrets)
	if err != nil {
		return err
	}
	return seedDemo(ctx, store, secrets, log, *ifEmpty)
}

func seedDemo(ctx context.Context, store *models.Store, secrets *config.Secrets, log *slog.Logger, ifEmpty bool) error {
	if ifEmpty {
		has, err := store.HasTenants(ctx)
		if err != nil {
			return err
		}
		if has {
			log.Info("database already has data; demo data not loaded")
			return nil
		}
	}
	if err := demo.Seed(ctx, store); err != nil {
		return err
	}
	// Acme Corp signs in through the development identity provider, which
	// runs only when someone starts it (make devidp).
	box, err := sealbox.New(secrets.SSOClientSecret)
	if err != nil {
		return err
	}
	seal := func(tenantID int64) string { return box.Seal(demo.DevClientSecret, models.SSOSecretBinding(tenantID)) }
	if err := demo.SeedSSO(ctx, store, demo.DevIssuer, demo.DevClientID, seal); err != nil {
		return err
	}
	// Before the webhook endpoint exists: the demo's test orders are of
	// the past, and nobody waits for their events.
	hasher := apikey.NewHasher(secrets.APIKeyHash)
	if err := demo.SeedAPI(ctx, store, hasher.Hash); err != nil {
		return err
	}
	// Five closed months and the current one, for the billing pages; before
	// the webhook endpoint, like the test orders: they are the past.
	if err := demo.SeedBilling(ctx, store); err != nil {
		return err
	}
	// Acme Corp's sandbox events go to the development receiver, which also
	// runs only when someone starts it (make webhook-receiver).
	if err := demo.SeedWebhooks(ctx, store); err != nil {
		return err
	}
	months := demo.BillingMonths(time.Now())
	log.Info("demo data loaded", "password", demo.Password, "single sign-on", "Acme Corp through "+demo.DevIssuer+" (make devidp)",
		"webhooks", "Acme Corp's sandbox to http://"+webhook.DevReceiverAddr+webhook.DevReceiverPath+" (make webhook-receiver)",
		"billing", "statements of "+string(months[0])+" to "+string(months[len(months)-1])+", then the current month")
	return nil
}
