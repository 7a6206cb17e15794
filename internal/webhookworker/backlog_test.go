package webhookworker_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"canopy/internal/webhookworker"
	"canopy/models"
)

// A slow endpoint with a backlog larger than the worker reads at once
// holds its share of slots, and the others still go out at once.
func TestASlowEndpointsBacklogStarvesNoOther(t *testing.T) {
	w := newWorld(t)
	release := make(chan struct{})
	var slowInFlight atomic.Int64
	slow := newReceiver(t, func(int, *http.Request) (int, http.Header, string) {
		slowInFlight.Add(1)
		<-release
		return 200, nil, ""
	})
	defer close(release)
	fastRC := newReceiver(t, nil)
	w.endpoint(t, slow.URL)
	w.emit(t, 20) // backlog > 4*4 candidates
	fastEP, _ := w.endpoint(t, fastRC.URL)
	start(t, w.app, loopback, webhookworker.WithConcurrency(4, 2))
	waitFor(t, "slow holds two", func() bool { return slowInFlight.Load() == 2 })
	w.emit(t, 1)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, d := range w.deliveries(t, fastEP) {
			if d.Status == models.DeliverySucceeded {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fast endpoint's delivery not sent within 3s while 2 of 4 slots were free: blocked behind another endpoint's backlog")
}
