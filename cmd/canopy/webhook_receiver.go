package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"canopy/internal/webhook"
)

// webhookReceiver serves a small receiver that prints each verified
// webhook, until SIGINT or SIGTERM. Like devidp it needs none of Canopy's
// configuration, so main runs it before loading that, and it runs only
// when someone starts it.
func webhookReceiver(args []string, out io.Writer) error {
	addr, secret, err := parseReceiverFlags(args, out)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runReceiver(ctx, addr, secret, out, nil)
}

// parseReceiverFlags reads the address and secret: --secret, else
// CANOPY_WEBHOOK_SECRET, else the demo endpoint's published one.
func parseReceiverFlags(args []string, out io.Writer) (addr, secret string, err error) {
	flags := flag.NewFlagSet("webhook-receiver", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.StringVar(&addr, "addr", webhook.DevReceiverAddr, "listen address (loopback only)")
	flags.StringVar(&secret, "secret", "", "the endpoint's signing secret, whsec_… (default $CANOPY_WEBHOOK_SECRET, else the demo endpoint's)")
	if err := flags.Parse(args); err != nil {
		return "", "", err
	}
	if flags.NArg() > 0 {
		return "", "", fmt.Errorf("webhook-receiver takes no arguments, got %q", flags.Args())
	}
	if secret == "" {
		secret = os.Getenv("CANOPY_WEBHOOK_SECRET")
	}
	if secret == "" {
		secret = webhook.DevSecret
	}
	if _, err := webhook.ParseSecret(secret); err != nil {
		return "", "", fmt.Errorf("webhook-receiver: --secret: %w", err)
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return "", "", fmt.Errorf("webhook-receiver: --addr %q must be a loopback address and port, such as %s", addr, webhook.DevReceiverAddr)
	}
	return addr, secret, nil
}

// runReceiver listens on addr and serves until ctx ends; ready, when not
// nil, is told the address it listens on.
func runReceiver(ctx context.Context, addr, secret string, out io.Writer, ready chan<- string) error {
	rc, err := webhook.NewReceiver(secret, out)
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("webhook-receiver: %w", err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second}
	whose := "The demo data gives Acme Corp a sandbox endpoint at this URL with this secret;\nan endpoint of your own works too (--secret or CANOPY_WEBHOOK_SECRET)."
	if secret != webhook.DevSecret {
		whose = "It verifies with this secret only: the demo endpoint's deliveries, signed\nwith the demo secret, are refused while it runs so."
	}
	fmt.Fprintf(out, `Canopy webhook receiver: prints each webhook whose signature verifies, refuses the others.

  endpoint URL  http://%s%s
  secret        %s

%s
Press Ctrl-C to stop.

`, listener.Addr(), webhook.DevReceiverPath, secret, whose)
	if ready != nil {
		ready <- listener.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "stopping the webhook receiver")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
