// Package webhookworker delivers webhooks: it claims due deliveries from
// the store (a lease, so a worker that dies mid-send lets another resend),
// signs each to the Standard Webhooks specification (internal/webhook),
// POSTs it through a client that dials only the addresses the policy allows
// (internal/netguard), follows no redirect and reads at most a bounded part
// of the answer, and records the attempt: success, a retry on the
// schedule, or failure. Several workers, in one process or many, can run
// against one PostgreSQL database; SQLite runs one.
package webhookworker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"canopy/internal/netguard"
	"canopy/internal/webhook"
	"canopy/models"
)

// Defaults. The lease outlasts one attempt (the timeout) with room for
// recording it; a delivery is claimed only when a slot is free to send it.
const (
	defaultPollInterval  = time.Second
	defaultTimeout       = 15 * time.Second
	defaultMaxInFlight   = 16
	defaultPerEndpoint   = 2
	defaultMaxRetryAfter = time.Hour
	pruneInterval        = time.Hour
	// maxResponseRead is how much of an answer is read at all: what the log
	// keeps (4 KB) and no more, so a huge or endless answer costs nothing.
	maxResponseRead = 4096
	userAgent       = "Canopy-Webhooks/1"
)

// Worker delivers webhooks until its context ends.
type Worker struct {
	store         *models.Store
	log           *slog.Logger
	id            string
	client        *http.Client
	schedule      []time.Duration
	pollInterval  time.Duration
	timeout       time.Duration
	maxInFlight   int
	perEndpoint   int
	maxRetryAfter time.Duration
	now           func() time.Time
	mail          models.WebhookDisabledMail

	slots chan struct{} // one per delivery in flight
	wake  chan struct{}
	freed chan struct{}
}

// Option adjusts a Worker; tests use them to run on a fast clock.
type Option func(*Worker)

// WithSchedule replaces models.WebhookRetrySchedule: the wait before each
// retry, after which the delivery has failed.
func WithSchedule(schedule []time.Duration) Option { return func(w *Worker) { w.schedule = schedule } }

// WithPollInterval sets how often the worker looks for due deliveries.
func WithPollInterval(d time.Duration) Option { return func(w *Worker) { w.pollInterval = d } }

// WithClock replaces time.Now for claiming, signing and scheduling.
func WithClock(now func() time.Time) Option { return func(w *Worker) { w.now = now } }

// WithConcurrency bounds deliveries in flight, in all and per endpoint.
func WithConcurrency(total, perEndpoint int) Option {
	return func(w *Worker) { w.maxInFlight, w.perEndpoint = total, perEndpoint }
}

// WithTimeout bounds one attempt, from dialling to the answer's last byte read.
func WithTimeout(d time.Duration) Option { return func(w *Worker) { w.timeout = d } }

// WithID names the worker in the leases it takes (default: host, process
// and a random part).
func WithID(id string) Option { return func(w *Worker) { w.id = id } }

// WithDisabledMail writes the email the company's Admins get when the
// worker disables one of its endpoints.
func WithDisabledMail(mail models.WebhookDisabledMail) Option {
	return func(w *Worker) { w.mail = mail }
}

// WithMaxRetryAfter bounds how long a 429 or 503's Retry-After may delay
// the next attempt.
func WithMaxRetryAfter(d time.Duration) Option { return func(w *Worker) { w.maxRetryAfter = d } }

// New makes a worker delivering store's webhooks to the addresses policy
// allows.
func New(store *models.Store, policy netguard.Policy, log *slog.Logger, opts ...Option) *Worker {
	host, _ := os.Hostname()
	w := &Worker{
		store: store, log: log, id: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8]),
		schedule: models.WebhookRetrySchedule, pollInterval: defaultPollInterval, timeout: defaultTimeout,
		maxInFlight: defaultMaxInFlight, perEndpoint: defaultPerEndpoint, maxRetryAfter: defaultMaxRetryAfter,
		now: time.Now, wake: make(chan struct{}, 1), freed: make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(w)
	}
	w.slots = make(chan struct{}, w.maxInFlight)
	w.client = &http.Client{
		Transport: policy.Transport(w.timeout),
		Timeout:   w.timeout,
		// A redirect is a failure: following it would send the signed body
		// somewhere the company did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return w
}

// Notify asks the worker to look for due deliveries now. It never blocks.
func (w *Worker) Notify() { signal(w.wake) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then lets the attempts in flight finish and
// be recorded: an attempt cut short would be sent again.
func (w *Worker) Run(ctx context.Context) {
	ticker := time.NewTicker(w.pollInterval)
	defer ticker.Stop()
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	var lastPrune time.Time
	for {
		if now := w.now(); now.Sub(lastPrune) >= pruneInterval {
			lastPrune = now
			w.prune(ctx, now)
		}
		w.dispatch(ctx, &inFlight)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.wake:
		case <-w.freed:
		}
	}
}

// dispatch claims as many due deliveries as there are free slots and
// sends each in its own goroutine.
func (w *Worker) dispatch(ctx context.Context, inFlight *sync.WaitGroup) {
	for ctx.Err() == nil {
		free := cap(w.slots) - len(w.slots)
		if free == 0 {
			return
		}
		jobs, err := w.store.ClaimDueWebhookDeliveries(ctx, w.id, w.now(), free, w.perEndpoint, w.timeout+time.Minute)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("webhook worker: cannot claim deliveries", "err", err)
			}
			return
		}
		for _, job := range jobs {
			w.slots <- struct{}{}
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				defer func() { <-w.slots; signal(w.freed) }()
				w.deliver(context.WithoutCancel(ctx), job)
			}()
		}
		if len(jobs) < free {
			return
		}
	}
}

// deliver makes one attempt and records it.
func (w *Worker) deliver(ctx context.Context, job models.WebhookJob) {
	result := w.attempt(ctx, job)
	outcome, err := w.store.RecordWebhookAttempt(ctx, job, result, w.mail)
	switch {
	case err != nil:
		// The lease lapses and the delivery goes out again: a duplicate
		// (with the same webhook-id) is better than a loss.
		w.log.Error("webhook worker: attempt not recorded", "delivery_id", job.DeliveryID, "err", err)
	case outcome.EndpointDisabled:
		w.log.Warn("webhook worker: endpoint disabled", "endpoint_id", job.EndpointID, "tenant_id", job.TenantID, "reason", outcome.DisabledReason)
	case result.Succeeded:
		w.log.Debug("webhook worker: delivered", "delivery_id", job.DeliveryID, "msg_id", job.MsgID, "status", result.StatusCode)
	case outcome.Status == models.DeliveryFailed:
		w.log.Warn("webhook worker: giving up on delivery", "delivery_id", job.DeliveryID, "endpoint_id", job.EndpointID, "err", result.Error)
	default:
		w.log.Info("webhook worker: attempt failed; will retry", "delivery_id", job.DeliveryID, "endpoint_id", job.EndpointID,
			"retry_in", result.RetryIn, "err", result.Error)
	}
}

// attempt signs and sends the delivery once and says what happened.
func (w *Worker) attempt(ctx context.Context, job models.WebhookJob) models.WebhookAttemptResult {
	at := w.now()
	body := []byte(job.Body)
	r := models.WebhookAttemptResult{At: at, RequestBody: job.Body}
	headers, err := webhook.Headers(job.Secrets, job.MsgID, at, body)
	if err != nil {
		return w.failed(job, r, 0, fmt.Sprintf("sign: %v", err), 0)
	}
	headers.Set("Content-Type", "application/json")
	headers.Set("User-Agent", userAgent)
	r.RequestHeaders = map[string]string{}
	for name := range headers {
		r.RequestHeaders[name] = headers.Get(name)
	}
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(body))
	if err != nil {
		return w.failed(job, r, 0, fmt.Sprintf("the URL cannot be requested: %v", err), 0)
	}
	req.Header = headers
	started := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		r.Duration = time.Since(started)
		return w.failed(job, r, 0, describe(err, w.timeout), 0)
	}
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()
	r.Duration = time.Since(started)
	r.StatusCode, r.ResponseBody = resp.StatusCode, string(answer)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if readErr != nil {
			w.log.Debug("webhook worker: answer cut short", "delivery_id", job.DeliveryID, "err", readErr)
		}
		r.Succeeded = true
		return r
	case code >= 300 && code < 400:
		return w.failed(job, r, code, fmt.Sprintf("answered %d, a redirect: redirects are not followed; use the final URL", code), 0)
	case code == http.StatusGone:
		r.Gone = true
		return w.failed(job, r, code, "answered 410 Gone", 0)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return w.failed(job, r, code, fmt.Sprintf("answered %d", code), retryAfter(resp.Header.Get("Retry-After"), at))
	default:
		return w.failed(job, r, code, fmt.Sprintf("answered %d", code), 0)
	}
}

// failed completes a failed attempt's result with when to try again:
// the schedule's next wait, or longer when the receiver asked for it
// (Retry-After, bounded), or never once the schedule is spent.
func (w *Worker) failed(job models.WebhookJob, r models.WebhookAttemptResult, code int, reason string, asked time.Duration) models.WebhookAttemptResult {
	r.StatusCode, r.Error = code, reason
	made := job.Attempts + 1
	if made > len(w.schedule) {
		r.RetryIn = -1
		return r
	}
	r.RetryIn = max(w.schedule[made-1], min(asked, w.maxRetryAfter))
	return r
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date; zero
// when absent or unreadable.
func retryAfter(value string, now time.Time) time.Duration {
	if value == "" {
		return 0
	}
	if secs, err := strconv.Atoi(value); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(value); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// describe puts a failed request in words for the delivery log.
func describe(err error, timeout time.Duration) string {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, netguard.ErrForbidden):
		return "refused: the URL leads to an address Canopy does not deliver to (loopback, private, link-local or metadata; the operator may allow networks with CANOPY_WEBHOOK_ALLOWED_NETWORKS)"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("looking up %s in DNS failed", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused: nothing listens at the URL's host and port"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	}
	// net/http names the whole URL in its errors; a token a company put in
	// its URL's query must not reach the server's log or the delivery log.
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Op + " " + withoutQuery(urlErr.URL) + ": " + urlErr.Err.Error()
	}
	return err.Error()
}

// withoutQuery is raw without its query and fragment.
func withoutQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i] + "?…"
	}
	return raw
}

// prune forgets the log older than models.WebhookLogRetention. Every
// worker prunes; that is harmless.
func (w *Worker) prune(ctx context.Context, now time.Time) {
	n, err := w.store.PruneWebhookLog(ctx, now.Add(-models.WebhookLogRetention))
	if err != nil && ctx.Err() == nil {
		w.log.Error("webhook worker: prune the log", "err", err)
		return
	}
	if n > 0 {
		w.log.Info("webhook worker: pruned old attempts", "attempts", n)
	}
}
