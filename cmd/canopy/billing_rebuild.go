package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"canopy/internal/config"
)

// errBillingDifferences is the exit of a rebuild that found kept figures
// differing from those derived and was not asked to replace them: a
// scheduled check fails loudly.
var errBillingDifferences = errors.New("the kept figures differ from those derived; run again with --apply to replace them")

// billingRebuild derives a month's daily figures again and reports, or
// with --apply repairs, the days that differ (models.Store.RebuildBillingMonth).
func billingRebuild(cfg *config.Config, log *slog.Logger, args []string, out io.Writer) error {
	flags := flag.NewFlagSet("billing rebuild", flag.ContinueOnError)
	flags.SetOutput(out)
	monthFlag := flags.String("month", "", "the month to rebuild, e.g. 2026-11")
	apply := flags.Bool("apply", false, "replace the kept figures by those derived")
	if err := flags.Parse(args); err != nil {
		return err
	}
	month, err := parseMonthFlag("billing rebuild", *monthFlag)
	if err != nil {
		return err
	}
	ctx := context.Background()
	store, closeStore, err := openBillingStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()
	report, err := store.RebuildBillingMonth(ctx, month, *apply)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Rebuild of %s: %d companies compared", month, report.Companies)
	if len(report.Skipped) > 0 {
		fmt.Fprintf(out, ", %d skipped as closed (%s)", len(report.Skipped), strings.Join(report.Skipped, ", "))
	}
	fmt.Fprintln(out, ".")
	if len(report.Differences) == 0 {
		fmt.Fprintln(out, "No differences: the kept figures are those derived.")
		return nil
	}
	fmt.Fprintf(out, "%d differences (company, day, figure):\n", len(report.Differences))
	for _, d := range report.Differences {
		fmt.Fprintln(out, "  "+d)
	}
	if !report.Applied {
		return errBillingDifferences
	}
	fmt.Fprintln(out, "Applied: the kept figures are now those derived.")
	return nil
}
