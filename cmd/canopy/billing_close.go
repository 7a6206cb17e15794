package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"canopy/internal/config"
	"canopy/models"
)

// latestOffset is how far ahead of UTC the most advanced timezone is: a
// month has ended somewhere once its end there has passed.
const latestOffset = 14 * time.Hour

// billingClose closes a month into statements now, as the closing job
// would once it is due. A month that has not ended in every timezone is
// refused without --force, and one that has ended nowhere always.
func billingClose(cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("billing close", flag.ContinueOnError)
	flags.SetOutput(out)
	monthFlag := flags.String("month", "", "the month to close, e.g. 2026-11")
	force := flags.Bool("force", false, "close a month that has ended in some timezones but not yet in all")
	if err := flags.Parse(args); err != nil {
		return err
	}
	month, err := parseMonthFlag("billing close", *monthFlag)
	if err != nil {
		return err
	}
	now := time.Now()
	if err := closable(month, now, *force); err != nil {
		return err
	}
	ctx := context.Background()
	store, closeStore, err := openBillingStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	written, err := store.CloseBillingMonth(ctx, month, now)
	if err != nil {
		return err
	}
	if written == 0 {
		fmt.Fprintf(out, "%s: no statement written; every company that paid for itself then has its statement already.\n", month)
		return nil
	}
	fmt.Fprintf(out, "%s closed: %d statements written.\n", month, written)
	return nil
}

// closable says whether month may be closed at now: once it has ended in
// every timezone (models.BillingMonthDue), or with force once it has ended
// in the first.
func closable(month models.BillingMonth, now time.Time, force bool) error {
	if month <= models.BillingMonthDue(now) {
		return nil
	}
	endsFirst := month.Next().Start(time.UTC).Add(-latestOffset)
	if now.Before(endsFirst) {
		return fmt.Errorf("billing close: %s has not ended anywhere yet (it ends first at %s)", month, endsFirst.Format("2006-01-02 15:04 MST"))
	}
	if force {
		return nil
	}
	due := month.ClosesAt()
	return fmt.Errorf("billing close: %s has not ended in every timezone yet; the closing job closes it after %s. "+
		"--force closes it now: what its companies still use in it counts in the next month, marked late", month, due.Format("2006-01-02 15:04 MST"))
}
