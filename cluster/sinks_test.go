package cluster

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"canopy/internal/webhook"
)

// email is one message the SMTP sink received, decoded.
type email struct {
	to      string // the envelope's recipient
	subject string
	body    string
}

// smtpSink is a real SMTP server on loopback that keeps every message, so
// the test can read invitation links and count what the instances sent.
type smtpSink struct {
	addr     *net.TCPAddr
	mu       sync.Mutex
	messages []email
}

func startSMTPSink(t *testing.T) *smtpSink {
	t.Helper()
	sink := &smtpSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = listener.Addr().(*net.TCPAddr)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(listener) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp sink: %v", err)
		}
	})
	return sink
}

// received is every message so far.
func (s *smtpSink) received() []email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]email(nil), s.messages...)
}

// to is every message so far for address.
func (s *smtpSink) to(address string) []email {
	var out []email
	for _, m := range s.received() {
		if strings.EqualFold(m.to, address) {
			out = append(out, m)
		}
	}
	return out
}

type sinkSession struct {
	sink *smtpSink
	to   []string
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *sinkSession) Reset()        { s.to = nil }
func (s *sinkSession) Logout() error { return nil }

func (s *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	subject, body, err := decodeEmail(raw)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	for _, to := range s.to {
		s.sink.messages = append(s.sink.messages, email{to: strings.ToLower(to), subject: subject, body: body})
	}
	return nil
}

// decodeEmail reads the subject and the plain-text body of a message as
// Canopy's mailer writes it (quoted-printable, subject perhaps in encoded
// words).
func decodeEmail(raw []byte) (subject, body string, err error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", "", err
	}
	reader := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		reader = quotedprintable.NewReader(reader)
	}
	text, err := io.ReadAll(reader)
	if err != nil {
		return "", "", err
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	return subject, strings.ReplaceAll(string(text), "\r\n", "\n"), err
}

// webhookSink receives the webhooks of the endpoint the test points at it,
// verifies each with the endpoint's secret and counts them by webhook-id,
// which stays the same across attempts of one message.
type webhookSink struct {
	url    string
	secret string
	mu     sync.Mutex
	byID   map[string]int
	bad    []string // requests whose signature did not verify
}

func startWebhookSink(t *testing.T, secret string) *webhookSink {
	t.Helper()
	sink := &webhookSink{secret: secret, byID: map[string]int{}}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.url = "http://" + listener.Addr().String() + "/webhooks"
	srv := &http.Server{Handler: sink, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(listener) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sink
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := webhook.Verify(s.secret, r.Header, body, time.Now()); err != nil {
		s.bad = append(s.bad, id+": "+err.Error())
		http.Error(w, "not verified", http.StatusUnauthorized)
		return
	}
	s.byID[id]++
	w.WriteHeader(http.StatusNoContent)
}

// counts is how often each webhook-id arrived, and the refused requests.
func (s *webhookSink) counts() (map[string]int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.byID))
	for id, n := range s.byID {
		out[id] = n
	}
	return out, append([]string(nil), s.bad...)
}
