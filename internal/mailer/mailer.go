// Package mailer delivers the email outbox: a Worker claims due messages from
// the database and hands each to a Sender, which is SMTP in production and a
// folder of .eml files (plus a log line) in development.
package mailer

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	gomail "github.com/wneessen/go-mail"

	"canopy/internal/config"
)

// Message is one plain-text email to deliver. The sender adds From.
type Message struct {
	ID      int64 // the outbox row, for logs and file names
	To      string
	Subject string
	Body    string // plain text
}

// Sender delivers one message. An error means it was not delivered and the
// worker will try again later.
type Sender interface {
	Send(ctx context.Context, msg Message) error
}

// NewSender picks the sender the configuration asks for: SMTP when a host is
// set, otherwise files under dataDir/mail so development needs no mail server.
func NewSender(cfg config.SMTP, dataDir string, log *slog.Logger) (Sender, error) {
	if cfg.Host == "" {
		return NewFileSender(filepath.Join(dataDir, "mail"), cfg.From, log), nil
	}
	return NewSMTPSender(cfg)
}

// compose renders msg as an RFC 5322 message, the same way for every sender,
// so the dev .eml files show exactly what SMTP would carry.
func compose(from string, msg Message) (*gomail.Msg, error) {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("from address %q: %w", from, err)
	}
	if err := m.To(msg.To); err != nil {
		return nil, fmt.Errorf("to address %q: %w", msg.To, err)
	}
	m.Subject(msg.Subject)
	m.SetDate()
	m.SetMessageID()
	m.SetBodyString(gomail.TypeTextPlain, msg.Body)
	return m, nil
}
