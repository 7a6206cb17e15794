package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
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
// lets in-flight requests finish before exiting. On SIGTERM — what a
// process manager or an orchestrator sends — it first drains: /readyz
// answers 503 for CANOPY_DRAIN_DELAY while everything else still serves,
// so a load balancer stops sending it requests before it stops listening.
// SIGINT (Ctrl-C) is a person at a terminal, who has no balancer to wait
// for.
func serve(cfg *config.Config, log *slog.Logger, args []string) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	seedIfEmpty := flags.Bool("seed-demo-if-empty", false, "load the demo data when the database has no tenants")
	if err := flags.Parse(args); err != nil {
		return err
	}
	ctx, stopSignal, stopSignals := notifyStop()
	defer stopSignals()

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
	closeDB := sync.OnceFunc(func() { _ = models.Close(db) })
	defer closeDB()
	closeDetached := func() {}
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
		closeDetached = sync.OnceFunc(func() { _ = models.Close(detached) })
		defer closeDetached()
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
	h.StartDraining()
	if sig := stopSignal(); sig == syscall.SIGTERM && cfg.DrainDelay > 0 {
		// Answers from now on close their connection, so clients that
		// reach this process directly open their next one elsewhere.
		srv.SetKeepAlivesEnabled(false)
		log.Info("draining: /readyz answers 503 while requests are still served", "delay", cfg.DrainDelay)
		select {
		case err := <-errs:
			return fmt.Errorf("serve: %w", err)
		case <-time.After(cfg.DrainDelay):
		}
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
	closeDetached()
	closeDB()
	waitForConnections(log)
	log.Info("stopped")
	return nil
}

// connectionsCloseTimeout bounds how long a stopping server waits for its
// database connections to finish closing.
const connectionsCloseTimeout = 5 * time.Second

// waitForConnections lets the database connections that pgx is still
// closing in the background finish (see models.WaitConnectionsClosed)
// before the process exits.
func waitForConnections(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), connectionsCloseTimeout)
	defer cancel()
	if err := models.WaitConnectionsClosed(ctx); err != nil {
		log.Warn("database connections still closing at exit", "err", err)
	}
}

// notifyStop returns a context cancelled by the first SIGINT or SIGTERM,
// and what that signal was once it is. Later signals are ignored until
// stop is called, as with signal.NotifyContext.
func notifyStop() (ctx context.Context, received func() os.Signal, stop func()) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	var first atomic.Value
	go func() {
		select {
		case sig := <-signals:
			first.Store(sig)
			cancel()
		case <-ctx.Done():
		}
	}()
	received = func() os.Signal {
		sig, _ := first.Load().(os.Signal)
		return sig
	}
	return ctx, received, func() {
		signal.Stop(signals)
		cancel()
	}
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
