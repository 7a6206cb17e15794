package mailer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// FileSender is the development sender: each message becomes an .eml file
// (openable in any mail client) and a log line with its links, so a developer
// can follow an invitation link straight from the terminal.
type FileSender struct {
	dir  string
	from string
	log  *slog.Logger
}

// NewFileSender writes messages into dir, created on first use.
func NewFileSender(dir, from string, log *slog.Logger) *FileSender {
	return &FileSender{dir: dir, from: from, log: log}
}

// Send writes msg to a new file named by the time and outbox id, then logs
// the recipient, subject and every link in the body.
func (f *FileSender) Send(_ context.Context, msg Message) error {
	m, err := compose(f.from, msg)
	if err != nil {
		return err
	}
	// The folder holds sign-up links, which are as good as passwords.
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return fmt.Errorf("create mail folder: %w", err)
	}
	name := fmt.Sprintf("%s-%d.eml", time.Now().UTC().Format("20060102T150405.000000000Z"), msg.ID)
	path := filepath.Join(f.dir, name)
	// Written under a temporary name and renamed, so nobody opens half a message.
	tmp, err := os.CreateTemp(f.dir, ".writing-*.eml")
	if err != nil {
		return fmt.Errorf("create mail file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := m.WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write mail file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write mail file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save mail file: %w", err)
	}

	attrs := []any{"to", msg.To, "subject", msg.Subject, "file", path}
	for _, link := range Links(msg.Body) {
		attrs = append(attrs, "link", link)
	}
	f.log.Info("email written to file (CANOPY_SMTP_HOST is empty, so nothing was sent)", attrs...)
	return nil
}

func (f *FileSender) String() string { return "files in " + f.dir }

var linkPattern = regexp.MustCompile(`https?://[^\s<>"'()\[\]{}]+`)

// Links returns the http(s) URLs in text, without punctuation that ends the
// sentence around them.
func Links(text string) []string {
	var links []string
	for _, link := range linkPattern.FindAllString(text, -1) {
		links = append(links, strings.TrimRight(link, ".,;:!?"))
	}
	return links
}
