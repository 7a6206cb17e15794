package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The development receiver (`canopy webhook-receiver`, `make
// webhook-receiver`) and the demo endpoint pointing at it.
const (
	DevReceiverAddr = "127.0.0.1:9997"
	DevReceiverPath = "/webhooks"
	// DevSecret is the demo endpoint's signing secret, published in the
	// README so the receiver can verify it: never a real one.
	DevSecret = "whsec_Y2Fub3B5LWRlbW8td2ViaG9vay1zZWNyZXQtMzJieXQ=" //nolint:gosec // G101: the demo's published secret, by design
)

// maxReceivedBody bounds what the receiver reads of a request.
const maxReceivedBody = 1 << 20

// Receiver is an HTTP handler that verifies each webhook request with
// secret and prints it (its id, type and indented JSON) to out; a request
// that does not verify is answered 401 and reported as refused. It is for
// watching deliveries locally, and shows how a receiver checks them.
type Receiver struct {
	secret string
	out    io.Writer
	now    func() time.Time
	mu     sync.Mutex // one printout at a time
}

// NewReceiver makes a receiver verifying with secret, writing to out.
func NewReceiver(secret string, out io.Writer) (*Receiver, error) {
	if _, err := ParseSecret(secret); err != nil {
		return nil, err
	}
	return &Receiver{secret: secret, out: out, now: time.Now}, nil
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST webhooks here", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceivedBody))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := Verify(rc.secret, r.Header, body, rc.now()); err != nil {
		fmt.Fprintf(rc.out, "REFUSED %s %s: %v\n\n", r.Header.Get(HeaderID), r.URL.Path, err)
		http.Error(w, "signature not verified", http.StatusUnauthorized)
		return
	}
	var event struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &event)
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(body)
	}
	fmt.Fprintf(rc.out, "verified %s %s\n%s\n\n", r.Header.Get(HeaderID), event.Type, pretty.String())
	w.WriteHeader(http.StatusNoContent)
}
