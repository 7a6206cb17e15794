package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"canopy/internal/devidp"
)

// devIDP serves the development identity provider until SIGINT or SIGTERM.
// It needs none of Canopy's configuration, so main runs it before loading
// that.
func devIDP(args []string, out io.Writer) error {
	cfg, err := parseDevIDPFlags(args, out)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return runDevIDP(ctx, cfg, out)
}

// parseDevIDPFlags reads `canopy devidp`'s flags; the defaults are those
// the demo data configures Acme Corp with.
func parseDevIDPFlags(args []string, out io.Writer) (devidp.Config, error) {
	var cfg devidp.Config
	flags := flag.NewFlagSet("devidp", flag.ContinueOnError)
	flags.SetOutput(out)
	flags.StringVar(&cfg.Addr, "addr", devidp.DefaultAddr, "listen address (loopback only)")
	flags.StringVar(&cfg.ClientID, "client-id", devidp.DefaultClientID, "the client id Canopy signs in with")
	flags.StringVar(&cfg.ClientSecret, "client-secret", devidp.DefaultClientSecret, "that client's secret")
	if err := flags.Parse(args); err != nil {
		return devidp.Config{}, err
	}
	if flags.NArg() > 0 {
		return devidp.Config{}, fmt.Errorf("devidp takes no arguments, got %q", flags.Args())
	}
	for _, f := range []struct{ name, value string }{
		{"addr", cfg.Addr}, {"client-id", cfg.ClientID}, {"client-secret", cfg.ClientSecret},
	} {
		if f.value == "" {
			return devidp.Config{}, fmt.Errorf("devidp: --%s is empty", f.name)
		}
	}
	return cfg, nil
}

// runDevIDP starts the provider, says how to use it, and serves until ctx
// ends.
func runDevIDP(ctx context.Context, cfg devidp.Config, out io.Writer) error {
	cfg.Log = slog.New(slog.NewTextHandler(out, nil))
	srv, err := devidp.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, `Canopy development identity provider: for development only, anyone can sign in here as anyone.

  issuer         %s
  client id      %s
  client secret  %s

The demo data configures Acme Corp to sign in here for acme.test (Acme Europe
inherits it). Run Canopy in another terminal (make run), sign in there with an
@acme.test email, and this provider's page asks who you are.
Press Ctrl-C to stop.
`, srv.Issuer(), srv.ClientID(), srv.ClientSecret())
	<-ctx.Done()
	fmt.Fprintln(out, "stopping the development identity provider")
	return srv.Close()
}
