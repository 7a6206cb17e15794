package mailer

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"

	"canopy/internal/config"
)

// smtpTimeout bounds connecting to the server and each command, so one hung
// server cannot stall the outbox.
const smtpTimeout = 30 * time.Second

// SMTPSender delivers through an SMTP server, one connection per message
// (Canopy sends little mail; a pool would only add failure modes).
type SMTPSender struct {
	client *gomail.Client
	from   string
	addr   string
}

// NewSMTPSender configures delivery through cfg's server. Port 465 means
// implicit TLS. Otherwise STARTTLS is used when the server offers it, and is
// required when credentials are set, so a password never crosses the network
// in the clear.
func NewSMTPSender(cfg config.SMTP) (*SMTPSender, error) {
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(smtpTimeout)}
	switch {
	case cfg.Port == 465:
		opts = append(opts, gomail.WithSSL())
	case cfg.Username != "":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if cfg.Username != "" {
		// Picks the strongest mechanism the server offers, and never PLAIN or
		// LOGIN on an unencrypted connection.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	client, err := gomail.NewClient(cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s: %w", cfg.Host, err)
	}
	return &SMTPSender{client: client, from: cfg.From, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))}, nil
}

// Send delivers msg, or returns why the server did not accept it.
func (s *SMTPSender) Send(ctx context.Context, msg Message) error {
	m, err := compose(s.from, msg)
	if err != nil {
		return err
	}
	if err := s.client.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("smtp %s: %w", s.addr, err)
	}
	return nil
}

func (s *SMTPSender) String() string { return "smtp " + s.addr }
