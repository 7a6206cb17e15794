package mailer_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"canopy/internal/config"
	"canopy/internal/mailer"
)

// syncBuffer is a log destination safe to read while a worker writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestFileSenderWritesEMLAndLogsLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail") // created on first use
	var logs syncBuffer
	sender := mailer.NewFileSender(dir, testFrom, slog.New(slog.NewTextHandler(&logs, nil)))
	const to = "dev@example.test"
	body := "Accept the invitation: " + inviteLink + ".\nHelp is at https://canopy.test/help, any time.\n"
	if err := sender.Send(context.Background(), mailer.Message{ID: 42, To: to, Subject: "You’re invited to Acme Corp", Body: body}); err != nil {
		t.Fatal(err)
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), "-42.eml") {
		t.Fatalf("mail folder holds %v, want one <time>-42.eml file", entries)
	}
	path := filepath.Join(dir, entries[0].Name())
	if info, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		t.Errorf("mail file mode %v: others can read sign-up links", info.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, text := parseEmail(t, raw)
	if got := addressOf(t, header.Get("From")); got != "no-reply@canopy.test" {
		t.Errorf("From = %q", got)
	}
	if got := addressOf(t, header.Get("To")); got != to {
		t.Errorf("To = %q", got)
	}
	if got := header.Get("Subject"); got != "You’re invited to Acme Corp" {
		t.Errorf("Subject = %q", got)
	}
	if header.Get("Date") == "" || header.Get("Message-Id") == "" {
		t.Errorf("missing Date or Message-ID: %v", header)
	}
	if text != body {
		t.Errorf("body = %q, want %q", text, body)
	}

	log := logs.String()
	for _, want := range []string{"to=" + to, "Acme Corp", inviteLink, "https://canopy.test/help", path} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, inviteLink+".") {
		t.Errorf("logged link kept the sentence's full stop:\n%s", log)
	}
}

func TestNewSenderPicksByConfig(t *testing.T) {
	dataDir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	t.Run("no host writes files", func(t *testing.T) {
		sender, err := mailer.NewSender(config.SMTP{Port: 587, From: testFrom}, dataDir, log)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sender.(*mailer.FileSender); !ok {
			t.Fatalf("sender is %T, want *mailer.FileSender", sender)
		}
		if err := sender.Send(context.Background(), mailer.Message{ID: 1, To: "a@example.test", Subject: "s", Body: "b"}); err != nil {
			t.Fatal(err)
		}
		if files, _ := filepath.Glob(filepath.Join(dataDir, "mail", "*-1.eml")); len(files) != 1 {
			t.Errorf("files in $DATA_DIR/mail = %v, want one", files)
		}
	})
	t.Run("host sends over SMTP", func(t *testing.T) {
		sender, err := mailer.NewSender(config.SMTP{Host: "smtp.example.test", Port: 587, Username: "u", Password: "p", From: testFrom}, dataDir, log)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := sender.(*mailer.SMTPSender); !ok {
			t.Fatalf("sender is %T, want *mailer.SMTPSender", sender)
		}
	})
}

func TestLinks(t *testing.T) {
	cases := []struct {
		text string
		want []string
	}{
		{"no links here", nil},
		{"Visit https://a.test/x?y=1&z=2.", []string{"https://a.test/x?y=1&z=2"}},
		{"two: http://a.localhost:8080/p, and (https://b.test/q)!", []string{"http://a.localhost:8080/p", "https://b.test/q"}},
		{"<https://c.test/r>\nftp://not.test", []string{"https://c.test/r"}},
	}
	for _, c := range cases {
		if got := mailer.Links(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Links(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
