package mailer

import (
	"context"
	"log/slog"
	"time"

	"canopy/models"
)

// Worker defaults. The lease covers a whole batch sent at the slowest, so no
// other worker takes a message this one is still sending.
const (
	defaultPollInterval = time.Second
	batchSize           = 10
	sendTimeout         = 45 * time.Second
	lease               = batchSize*sendTimeout + time.Minute
)

// Worker delivers the outbox: it polls for due messages (or is woken by
// Notify), claims a batch, sends each and records the outcome. Several
// workers, in one process or many, can run against one database.
type Worker struct {
	store        *models.Store
	sender       Sender
	log          *slog.Logger
	pollInterval time.Duration
	retryDelay   func(attempt int) time.Duration
	wake         chan struct{}
}

// WorkerOption adjusts a Worker; tests use them to run on a fast clock.
type WorkerOption func(*Worker)

// WithPollInterval sets how often the outbox is checked when nobody calls Notify.
func WithPollInterval(d time.Duration) WorkerOption {
	return func(w *Worker) { w.pollInterval = d }
}

// WithRetryDelay replaces models.EmailRetryDelay, the wait after the
// attempt-th failure (1-based).
func WithRetryDelay(delay func(attempt int) time.Duration) WorkerOption {
	return func(w *Worker) { w.retryDelay = delay }
}

// NewWorker delivers store's outbox through sender.
func NewWorker(store *models.Store, sender Sender, log *slog.Logger, opts ...WorkerOption) *Worker {
	w := &Worker{
		store:        store,
		sender:       sender,
		log:          log,
		pollInterval: defaultPollInterval,
		retryDelay:   models.EmailRetryDelay,
		wake:         make(chan struct{}, 1),
	}
	for _, opt := range opts {
		opt(w)
	}
	return w
}

// Notify asks the worker to look at the outbox now rather than at the next
// poll, e.g. after a request enqueued a message. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending; one is enough
	}
}

// Run delivers messages until ctx is cancelled. A message being sent when
// that happens is finished and recorded; the rest of its batch is released
// for the next worker.
func (w *Worker) Run(ctx context.Context) {
	ticker := time.NewTicker(w.pollInterval)
	defer ticker.Stop()
	for {
		w.deliverDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-w.wake:
		}
	}
}

// deliverDue sends batches until nothing is due or ctx is cancelled.
func (w *Worker) deliverDue(ctx context.Context) {
	for ctx.Err() == nil {
		batch, err := w.store.ClaimDueEmails(ctx, batchSize, lease)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("mail worker: cannot read the outbox", "err", err)
			}
			return
		}
		for i, email := range batch {
			if ctx.Err() != nil {
				w.release(batch[i:])
				return
			}
			w.deliver(ctx, email)
		}
		if len(batch) < batchSize {
			return
		}
	}
}

// deliver sends one message and records the outcome. Neither step is cut
// short by cancellation: a message half-sent at shutdown would be sent again.
func (w *Worker) deliver(ctx context.Context, email models.OutboxEmail) {
	ctx = context.WithoutCancel(ctx)
	sendCtx, cancel := context.WithTimeout(ctx, sendTimeout)
	err := w.sender.Send(sendCtx, Message{ID: email.ID, To: email.ToAddress, Subject: email.Subject, Body: email.BodyText})
	cancel()
	if err == nil {
		if err := w.store.MarkEmailSent(ctx, email.ID); err != nil {
			// The lease will expire and the message go out again: a
			// duplicate is better than a loss.
			w.log.Error("mail worker: sent but not recorded", "email_id", email.ID, "err", err)
			return
		}
		w.log.Debug("mail worker: email sent", "email_id", email.ID, "to", email.ToAddress)
		return
	}

	attempt := email.Attempts + 1
	retryIn := w.retryDelay(attempt)
	gaveUp, markErr := w.store.MarkEmailFailed(ctx, email.ID, err.Error(), retryIn)
	switch {
	case markErr != nil:
		w.log.Error("mail worker: failure not recorded", "email_id", email.ID, "send_err", err, "err", markErr)
	case gaveUp:
		w.log.Error("mail worker: giving up on email", "email_id", email.ID, "to", email.ToAddress, "attempts", attempt, "err", err)
	default:
		w.log.Warn("mail worker: send failed; will retry", "email_id", email.ID, "to", email.ToAddress, "attempt", attempt, "retry_in", retryIn, "err", err)
	}
}

func (w *Worker) release(emails []models.OutboxEmail) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, email := range emails {
		if err := w.store.ReleaseEmail(ctx, email.ID); err != nil {
			w.log.Warn("mail worker: could not release email; it waits for its lease to expire", "email_id", email.ID, "err", err)
		}
	}
}
