package mailer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"canopy/internal/config"
	"canopy/internal/mailer"
	"canopy/models"
)

const testFrom = "Canopy <no-reply@canopy.test>"

// inviteLink is long enough that quoted-printable wraps it, so a test that
// finds it intact proves the body decodes to exactly what was enqueued.
const inviteLink = "http://acme.localhost:8080/invitations/accept?token=Zm9vYmFyYmF6cXV4LXRoaXMtaXMtYS12ZXJ5LWxvbmctdG9rZW4tZm9yLXRlc3Rpbmc_x&next=%2Fteam"

// received is one message as the SMTP server got it.
type received struct {
	envelopeFrom string
	envelopeTo   []string
	data         []byte
}

// smtpRecorder is a real SMTP server on loopback that keeps what it receives
// and can refuse the first failFirst messages with a temporary (4xx) error.
type smtpRecorder struct {
	mu        sync.Mutex
	failFirst int
	attempts  int
	messages  []received
}

func startSMTPServer(t *testing.T, failFirst int) (*smtpRecorder, config.SMTP) {
	t.Helper()
	rec := &smtpRecorder{failFirst: failFirst}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &recordingSession{rec: rec}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp server: %v", err)
		}
	})
	port := listener.Addr().(*net.TCPAddr).Port
	return rec, config.SMTP{Host: "127.0.0.1", Port: port, From: testFrom}
}

func (r *smtpRecorder) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.messages...)
}

func (r *smtpRecorder) deliveryAttempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

type recordingSession struct {
	rec  *smtpRecorder
	from string
	to   []string
}

func (s *recordingSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *recordingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *recordingSession) Reset()        { s.from, s.to = "", nil }
func (s *recordingSession) Logout() error { return nil }

func (s *recordingSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.attempts++
	if s.rec.attempts <= s.rec.failFirst {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again"}
	}
	s.rec.messages = append(s.rec.messages, received{envelopeFrom: s.from, envelopeTo: s.to, data: data})
	return nil
}

// parseEmail reads an RFC 5322 message and decodes its body and subject.
func parseEmail(t *testing.T, raw []byte) (mail.Header, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	msg.Header["Subject"] = []string{subject}
	return msg.Header, strings.ReplaceAll(string(text), "\r\n", "\n")
}

func addressOf(t *testing.T, header string) string {
	t.Helper()
	addr, err := mail.ParseAddress(header)
	if err != nil {
		t.Fatalf("parse address %q: %v", header, err)
	}
	return addr.Address
}

// testLogger sends the worker's log to the test output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runWorker runs w until the test ends, and fails the test if Run does not
// return promptly once cancelled.
func runWorker(t *testing.T, w *mailer.Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("worker did not stop after its context was cancelled")
		}
	})
}

// waitForStatus polls the outbox until the message to `to` reaches status.
func waitForStatus(t *testing.T, store *models.Store, to, status string) models.OutboxEmail {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		emails, err := store.OutboxFor(context.Background(), to)
		if err != nil {
			t.Fatal(err)
		}
		if len(emails) != 1 {
			t.Fatalf("%d messages to %s in the outbox, want 1", len(emails), to)
		}
		if emails[0].Status == status {
			return emails[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("message to %s still %q (attempts %d, last error %q), want %q", to, emails[0].Status, emails[0].Attempts, emails[0].LastError, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
