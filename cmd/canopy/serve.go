package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"canopy/handlers"
	"canopy/internal/billingjob"
	"canopy/internal/config"
	"canopy/internal/mailer"
	"canopy/internal/netguard"
	"canopy/internal/webhookworker"
	"canopy/models"
)

// serve migrates the database and serves HTTP until SIGINT or SIGTERM, then
// lets in-flight requests finish before exiting.
func serve(cfg *config.Config, log *slog.Logger, args []string) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	seedIfEmpty := flags.Bool("seed-demo-if-empty", false, "load the demo data when the database has no tenants")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if err := cfg.ValidateForServe(); err != nil {
		return err
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
	// Seeding and migrations may run as the owner; serving should not.
	if warning, err := models.RowSecurityWarning(ctx, db); err != nil {
		return err
	} else if warning != "" {
		log.Warn(warning)
	}
	store, err := withWebhooks(models.NewStore(db).WithScopeKey(secrets.DatabaseScope), cfg, secrets)
	if err != nil {
		return err
	}
	if cfg.UsesPostgres() {
		detached, err := models.OpenPostgresDetached(cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("detached pool: %w", err)
		}
		defer models.Close(detached)
		store = store.WithDetachedPool(detached)
	}
	if err := store.CheckScopeKey(ctx); err != nil {
		return err
	}
	if *seedIfEmpty {
		if err := seedDemo(ctx, store, secrets, log, true); err != nil {
			return err
		}
	}
	stopMail, err := startMailWorker(cfg, store, log)
	if err != nil {
		return err
	}
	// Runs before the database closes (defers run last-in, first-out) on
	// every early return; the normal path stops the worker explicitly below.
	defer stopMail()
	stopWebhooks := startWebhookWorker(cfg, store, log)
	defer stopWebhooks()
	stopBilling := startBillingJob(store, log)
	defer stopBilling()
	go sweepHandoffs(ctx, store, log)
	go sweepSignInCounters(ctx, store, log)
	h := handlers.New(cfg, store, secrets, log)
	stopMetrics, err := startMetrics(cfg, store, h, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           h.Router(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	errs := make(chan error, 1)
	go func() { errs <- srv.ListenAndServe() }()
	log.Info("Canopy is running", "url", cfg.BaseURL.String(), "addr", cfg.Addr, "database", models.DialectOf(db))
	printWelcome(cfg, log)

	select {
	case err := <-errs:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; finishing requests in flight", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Only now can no request emit more events or enqueue more mail;
	// anything the workers do not reach stays for the next start. The
	// webhook worker stops first: disabling an endpoint queues mail.
	stopBilling()
	stopWebhooks()
	stopMail()
	log.Info("stopped")
	return nil
}

// startMailWorker delivers the email outbox in the background until the
// returned stop is called; stop lets the message being sent finish and may
// be called more than once.
func startMailWorker(cfg *config.Config, store *models.Store, log *slog.Logger) (stop func(), err error) {
	sender, err := mailer.NewSender(cfg.SMTP, cfg.DataDir, log)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	worker := mailer.NewWorker(store, sender, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Run(ctx)
	}()
	log.Info("mail worker started", "sender", fmt.Sprint(sender))
	return sync.OnceFunc(func() {
		cancel()
		<-done
		log.Info("mail worker stopped")
	}), nil
}

// withWebhooks gives the store the key that seals webhook secrets and the
// hosts production endpoints may reach over http.
func withWebhooks(store *models.Store, cfg *config.Config, secrets *config.Secrets) (*models.Store, error) {
	return store.WithWebhooks(models.WebhookSettings{SecretKey: secrets.WebhookSecret, HTTPHosts: cfg.WebhookHTTPHosts})
}

// startWebhookWorker delivers webhooks in the background until the returned
// stop is called; stop lets the attempts in flight finish (each within its
// 15-second timeout) and may be called more than once.
func startWebhookWorker(cfg *config.Config, store *models.Store, log *slog.Logger) (stop func()) {
	policy := netguard.Policy{Allowed: cfg.WebhookAllowedNetworks}
	worker := webhookworker.New(store, policy, log, webhookworker.WithDisabledMail(webhookDisabledMail(cfg)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Run(ctx)
	}()
	log.Info("webhook worker started", "allowed_networks", fmt.Sprint(cfg.WebhookAllowedNetworks))
	return sync.OnceFunc(func() {
		cancel()
		<-done
		log.Info("webhook worker stopped")
	})
}

// startBillingJob closes billing months and refreshes platform staff's
// projections in the background (internal/billingjob) until the returned
// stop is called; stop cuts a pass short (the next start does what it
// left) and may be called more than once.
func startBillingJob(store *models.Store, log *slog.Logger) (stop func()) {
	job := billingjob.New(store, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		job.Run(ctx)
	}()
	log.Info("billing job started", "interval", billingjob.DefaultInterval)
	return sync.OnceFunc(func() {
		cancel()
		<-done
		log.Info("billing job stopped")
	})
}

// webhookDisabledMail is the email a company's Admins get when the worker
// disables one of its endpoints.
func webhookDisabledMail(cfg *config.Config) models.WebhookDisabledMail {
	return func(n models.WebhookDisabledNotice) models.NewEmail {
		greeting := "Hello,"
		if n.AdminFirstName != "" {
			greeting = "Hello " + n.AdminFirstName + ","
		}
		return models.NewEmail{
			Subject: "A webhook endpoint of " + n.TenantName + " was disabled",
			Body: fmt.Sprintf(`%s

Canopy stopped sending webhooks to this %s endpoint of %s:

  %s

%s

Events are no longer sent to it. Once the endpoint works again, enable it and
resend what it missed from Developers → Webhooks:

  %s
`, greeting, strings.ToLower(n.Environment.Label()), n.TenantName, n.URL, n.Reason,
				cfg.TenantURL(n.TenantSubdomain, "/developers/webhooks")),
		}
	}
}

// handoffSweepInterval is how often spent hand-off tokens are forgotten;
// they live a minute, so the table never holds more than this much traffic.
const handoffSweepInterval = 10 * time.Minute

// sweepHandoffs forgets expired hand-off redemptions, and sessions idle
// past their lifetime, until ctx ends.
func sweepHandoffs(ctx context.Context, store *models.Store, log *slog.Logger) {
	ticker := time.NewTicker(handoffSweepInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := store.SweepHandoffs(ctx); err != nil && ctx.Err() == nil {
				log.Error("sweep hand-offs", "err", err)
			}
			if _, err := store.SweepSessions(ctx); err != nil && ctx.Err() == nil {
				log.Error("sweep sessions", "err", err)
			}
		}
	}
}

// sweepSignInCounters forgets sign-in counters quiet for an hour, which
// would start from nothing anyway, until ctx ends; the table holds no more
// than the last hour's attempts. Every instance sweeps; that is harmless.
func sweepSignInCounters(ctx context.Context, store *models.Store, log *slog.Logger) {
	ticker := time.NewTicker(models.SignInCounterMemory / 6)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			if _, err := store.SweepSignInCounters(ctx, now); err != nil && ctx.Err() == nil {
				log.Error("sweep sign-in counters", "err", err)
			}
		}
	}
}

func printWelcome(cfg *config.Config, log *slog.Logger) {
	log.Info(fmt.Sprintf("sign in at %s as alice@acme.test (password demo-password); tenants live at %s",
		cfg.BaseLink("/login", nil), cfg.TenantURL("<subdomain>", "/")))
}
