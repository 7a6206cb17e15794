package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"canopy/internal/config"
	"canopy/models"
)

const billingUsage = `Usage:
  canopy billing rebuild --month 2026-11 [--apply]
      derive every company's daily figures of the month again from what they count
      (completed live orders, device and membership intervals) and list each day
      that differs from those kept; exits with an error when some differ, unless
      --apply replaced the kept figures by the derived. Closed months are skipped.
  canopy billing close --month 2026-11 [--force]
      close the month into statements now, for every company that pays and has
      none yet (the closing job of canopy serve does this once the month has
      ended in every timezone); --force closes a month that has ended in some
      timezones but not yet in all`

// billing runs `canopy billing rebuild` (billing_rebuild.go) and `canopy
// billing close` (billing_close.go).
func billing(cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("billing: say what to do\n\n%s", billingUsage)
	}
	switch args[0] {
	case "rebuild":
		return billingRebuild(cfg, log, args[1:], out)
	case "close":
		return billingClose(cfg, log, args[1:], out)
	case "help", "-h", "--help":
		fmt.Fprintln(out, billingUsage)
		return nil
	}
	return fmt.Errorf("billing: unknown command %q\n\n%s", args[0], billingUsage)
}

// openBillingStore brings the schema up to date and connects as the
// server does, signing scopes with the server's key: the billing commands
// work in each company's scope, or the closing job's, as the server would.
func openBillingStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (*models.Store, func(), error) {
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		return nil, nil, err
	}
	db, err := openDatabase(ctx, cfg, secrets.DatabaseScope, log)
	if err != nil {
		return nil, nil, err
	}
	store := models.NewStore(db).WithScopeKey(secrets.DatabaseScope)
	if err := store.CheckScopeKey(ctx); err != nil {
		_ = models.Close(db)
		return nil, nil, err
	}
	return store, func() { _ = models.Close(db) }, nil
}

// parseMonthFlag reads the required --month.
func parseMonthFlag(command, value string) (models.BillingMonth, error) {
	if value == "" {
		return "", fmt.Errorf("%s: say which month, e.g. --month 2026-11", command)
	}
	month, err := models.ParseBillingMonth(value)
	if err != nil {
		return "", fmt.Errorf("%s: --month %q: %w", command, value, err)
	}
	return month, nil
}
