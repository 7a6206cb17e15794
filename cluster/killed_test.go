package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// maxLostRequests caps the requests a killed instance may take with it:
// at most one in flight per client.
const maxLostRequests = clientCount

// scenarioInstanceKilled: under the same load, with invitations (mail) and
// device events (webhooks) enqueued all along, one instance is killed with
// SIGKILL. Only requests in flight there may fail; every acknowledged
// device is there; afterwards every mail and every webhook is delivered,
// twice only if the killed instance held it when it died.
func scenarioInstanceKilled(t *testing.T, c *cluster) {
	clients := c.loadClients(t)
	inviter := c.signedIn(t, 1, "alice@acme.test", "acme")[0]
	l := startLoad("d", clients)
	defer l.finish()
	invited, stopInviting := c.keepInviting(t, inviter)
	defer stopInviting()

	time.Sleep(3 * time.Second)
	victim := c.instances[1]
	pid := victim.proc.cmd.Process.Pid
	killedAt := time.Now()
	victim.proc.kill()
	// What the dead instance's workers held: a webhook delivery's lease
	// names its worker (host/pid/random). A second after the kill, its
	// database sessions have run what it had sent (a claim's COMMIT may
	// still have been on its way) and ended.
	time.Sleep(time.Second)
	webhookLeases := c.pg.queryStrings(t, `SELECT id FROM webhook_deliveries WHERE status = 'pending' AND claimed_by LIKE $1`,
		fmt.Sprintf("%%/%d/%%", pid))
	time.Sleep(4 * time.Second)
	l.finish()
	sent := stopInviting()
	// An outbox lease names no worker, but a live instance sends a batch to
	// the local sink in milliseconds: whatever was claimed before the kill
	// and is still claimed and unsent seconds later is the dead one's.
	mailLeases := c.pg.queryStrings(t, `SELECT id FROM outbox_emails WHERE status = 'pending' AND locked_until > now() AND updated_at <= $1`, killedAt)
	// Those leases would lapse by themselves (a webhook's after 75 s, a
	// batch of mail after 8.5 min, both longer than the test may take):
	// the test lets them lapse now, as time would.
	if len(webhookLeases) > 0 {
		c.pg.exec(t, `UPDATE webhook_deliveries SET claimed_until = now() - interval '1 second' WHERE id = ANY($1::bigint[])`, "{"+strings.Join(webhookLeases, ",")+"}")
	}
	if len(mailLeases) > 0 {
		c.pg.exec(t, `UPDATE outbox_emails SET locked_until = now() - interval '1 second' WHERE id = ANY($1::bigint[])`, "{"+strings.Join(mailLeases, ",")+"}")
	}

	requests, failures, acked := l.result()
	var lost []failure
	for _, f := range failures {
		// A POST the dead instance was answering is not resent (it may
		// have been committed): HAProxy answers 502, or closes the
		// client's connection as the instance's was closed.
		lostThere := f.status == http.StatusBadGateway ||
			f.status == 0 && (strings.HasSuffix(f.problem, ": EOF") || strings.Contains(f.problem, "connection reset"))
		inFlightThere := lostThere && strings.HasPrefix(f.request, "POST ") &&
			!f.at.Before(killedAt) && f.at.Before(killedAt.Add(3*time.Second))
		if !inFlightThere {
			t.Fatalf("d: a request failed that was not in flight on the killed %s (killed at %s):\n%s\nall failures:\n%s",
				victim.name, killedAt.Format("15:04:05.000"), f, failureList(failures, 20))
		}
		lost = append(lost, f)
	}
	if len(lost) > maxLostRequests {
		t.Fatalf("d: %d requests were lost with the killed instance, more than the %d clients had in flight:\n%s", len(lost), maxLostRequests, failureList(lost, 20))
	}
	rows := c.checkAcked(t, "d", acked)
	logf(t, "d: %s killed (SIGKILL) under %d clients: %d requests, %d failed (POSTs in flight there, not resent), %d devices acknowledged, %d rows checked present",
		victim.name, len(clients), requests, len(lost), len(acked), rows)

	c.start(t, victim)
	c.waitReady(t, victim)
	c.waitJobsDone(t)
	c.checkMailOnce(t, mailLeases, invited())
	c.checkWebhooksOnce(t, webhookLeases)
	logf(t, "d: %d invitations sent during the run; leases the killed instance held: %d webhook deliveries, %d mails; %s restarted", sent, len(webhookLeases), len(mailLeases), victim.name)
}

// keepInviting invites a new person to Acme every quarter second until
// stop, which returns how many invitations were acknowledged; invited
// lists their addresses.
func (c *cluster) keepInviting(t *testing.T, b *browser) (invited func() []string, stop func() int) {
	t.Helper()
	var mu sync.Mutex
	var addresses []string
	var done atomic.Bool
	finished := make(chan struct{})
	token, err := b.csrf(context.Background(), b.tenantURL("acme", "/settings/team"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(finished)
		for n := 1; !done.Load(); n++ {
			address := fmt.Sprintf("invitee-d-%d-%d@cluster.test", c.unique(), n)
			p, err := b.do(context.Background(), http.MethodPost, b.tenantURL("acme", "/settings/team"), url.Values{
				"_csrf": {token}, "first_name": {"Ina"}, "last_name": {"Load"}, "email": {address}, "role": {"viewer"}})
			if err == nil && p.status == http.StatusSeeOther {
				mu.Lock()
				addresses = append(addresses, address)
				mu.Unlock()
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	invited = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), addresses...)
	}
	var once sync.Once
	stop = func() int {
		once.Do(func() { done.Store(true); <-finished })
		return len(invited())
	}
	return invited, stop
}

// waitJobsDone waits until the outbox and the test endpoint's deliveries
// have nothing left to send.
func (c *cluster) waitJobsDone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	reported := false
	for {
		mail := c.pg.queryInt(t, `SELECT count(*) FROM outbox_emails WHERE status = 'pending'`)
		hooks := c.pg.queryInt(t, `SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE d.status = 'pending' AND e.url = $1`, c.hooks.url)
		if mail == 0 && hooks == 0 {
			return
		}
		if left := time.Until(deadline); left < 75*time.Second && !reported {
			// Slow to drain: say what is still pending, for whoever reads
			// a failure after the deadline.
			reported = true
			for _, row := range c.pg.queryRows(t, `SELECT 'webhook', id, attempts, coalesce(claimed_by, ''), coalesce(claimed_until::text, ''), next_attempt_at::text
				FROM webhook_deliveries WHERE status = 'pending'
				UNION ALL SELECT 'mail', id, attempts, '', coalesce(locked_until::text, ''), next_attempt_at::text FROM outbox_emails WHERE status = 'pending'`) {
				logf(t, "d: still pending after 15 s: %v", row)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s, %d mails and %d webhook deliveries are still pending", mail, hooks)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkMailOnce: every outbox message was sent and the sink received it,
// more than once only where the killed instance held it (leased). The
// outbox's rows and the sink's messages are matched by recipient and
// subject, counted on both sides.
func (c *cluster) checkMailOnce(t *testing.T, leased []string, invited []string) {
	t.Helper()
	leasedIDs := map[string]bool{}
	for _, id := range leased {
		leasedIDs[id] = true
	}
	type tally struct{ rows, leased, received int }
	byKey := map[string]*tally{}
	key := func(to, subject string) string { return strings.ToLower(to) + " | " + subject }
	for _, row := range c.pg.queryRows(t, `SELECT id, to_address, subject, status FROM outbox_emails`) {
		if row[3] != "sent" {
			t.Fatalf("d: outbox message %s to %s is %s, not sent", row[0], row[1], row[3])
		}
		k := key(row[1], row[2])
		if byKey[k] == nil {
			byKey[k] = &tally{}
		}
		byKey[k].rows++
		if leasedIDs[row[0]] {
			byKey[k].leased++
		}
	}
	received := c.mail.received()
	for _, m := range received {
		k := key(m.to, m.subject)
		if byKey[k] == nil {
			t.Fatalf("d: the sink received mail that is not in the outbox: %s", k)
		}
		byKey[k].received++
	}
	rows, duplicates := 0, 0
	for k, n := range byKey {
		rows += n.rows
		if n.received < n.rows {
			t.Fatalf("d: %d of %d outbox messages %q never arrived", n.rows-n.received, n.rows, k)
		}
		if extra := n.received - n.rows; extra > n.leased {
			t.Fatalf("d: %q arrived %d times for %d outbox messages, of which only %d were held by the killed instance", k, n.received, n.rows, n.leased)
		} else {
			duplicates += extra
		}
	}
	for _, address := range invited {
		if len(c.mail.to(address)) == 0 {
			t.Fatalf("d: the invitation to %s was acknowledged but never mailed", address)
		}
	}
	logf(t, "d: mail: %d outbox messages, all sent; %d received by the sink; %d duplicates (allowed: %d held by the killed instance)",
		rows, len(received), duplicates, len(leased))
}

// checkWebhooksOnce: every delivery to the test's endpoint succeeded and
// the receiver got its message (by webhook-id), more than once only where
// the killed instance held the delivery's lease.
func (c *cluster) checkWebhooksOnce(t *testing.T, leased []string) {
	t.Helper()
	leasedIDs := map[string]bool{}
	for _, id := range leased {
		leasedIDs[id] = true
	}
	counts, refused := c.hooks.counts()
	if len(refused) > 0 {
		t.Fatalf("d: the receiver refused %d webhooks whose signature did not verify, e.g. %s", len(refused), refused[0])
	}
	deliveries := c.pg.queryRows(t, `SELECT d.id, m.msg_id, d.status, d.attempts FROM webhook_deliveries d
		JOIN webhook_messages m ON m.id = d.message_id JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.url = $1`, c.hooks.url)
	duplicates := 0
	for _, d := range deliveries {
		id, msgID, status := d[0], d[1], d[2]
		if status != "succeeded" {
			t.Fatalf("d: webhook delivery %s (%s) is %s after %s attempts", id, msgID, status, d[3])
		}
		switch n := counts[msgID]; {
		case n == 0:
			t.Fatalf("d: webhook delivery %s (%s) succeeded but the receiver never got it", id, msgID)
		case n > 1 && !leasedIDs[id]:
			t.Fatalf("d: webhook %s arrived %d times, and the killed instance did not hold it", msgID, n)
		case n > 1:
			duplicates += n - 1
		}
	}
	if len(counts) != len(deliveries) {
		t.Fatalf("d: the receiver got %d distinct webhooks, the database has %d deliveries to it", len(counts), len(deliveries))
	}
	logf(t, "d: webhooks: %d deliveries, all succeeded and received; %d duplicates (allowed: %d held by the killed instance)",
		len(deliveries), duplicates, len(leased))
}
