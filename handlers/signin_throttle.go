package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/internal/devicecookie"
	"canopy/models"
)

// Sign-in throttling follows OWASP's device cookies, so that it slows down
// guessing without letting anyone lock a person out:
//
//   - A browser in which an account signed in successfully carries a signed
//     device cookie for it. Its attempts at that account are counted on
//     that device's own counter: wrong passwords sent from anywhere else
//     cannot lock it.
//   - Every other attempt (an unknown browser, or a device locked out by its
//     own failures) is counted per account and per client address.
//   - Past a few failures, each further one makes the counter refuse
//     attempts for a delay that doubles up to a cap; the person is told
//     when to try again (429, Retry-After), no connection is held.
//   - A success resets the account's or device's counter and does not use
//     up the address's.
//
// The counters are in the database (models.BeginAttempt), so they hold
// across server instances. Both sign-in forms post to the base domain's
// POST /login (login, auth_handlers.go): the plain one and the one that
// continues to a company (?tenant=…), where a company host's /login sends
// the visitor. The Change password form (account_handlers.go) proves a
// password too and is counted on the signed-in person's own counter.
var (
	deviceThrottle  = models.Throttle{Free: 10, FirstDelay: time.Minute, MaxDelay: 15 * time.Minute, ResetOnSuccess: true}
	accountThrottle = models.Throttle{Free: 5, FirstDelay: 30 * time.Second, MaxDelay: 15 * time.Minute, ResetOnSuccess: true}
	addressThrottle = models.Throttle{Free: 20, FirstDelay: 30 * time.Second, MaxDelay: 15 * time.Minute}
)

// deviceCookieName is host-only on the base domain, where sign-in is; over
// https the __Host- prefix keeps a company's host from planting one.
func (h *Handlers) deviceCookieName() string {
	if h.cfg.Secure() {
		return "__Host-canopy_device"
	}
	return "canopy_device"
}

// knownDevices are the accounts this browser signed in to, from every
// device cookie it sent; a forged or expired entry counts as none.
func (h *Handlers) knownDevices(c echo.Context) []devicecookie.Device {
	var values []string
	for _, cookie := range c.Request().Cookies() {
		if cookie.Name == h.deviceCookieName() {
			values = append(values, cookie.Value)
		}
	}
	return h.devices.Read(values, h.now())
}

// beginSignIn counts an attempt to sign in to the account with this email:
// on this browser's own counter when it carries the account's device cookie
// and that counter is not locked, else as an unknown browser's.
func (h *Handlers) beginSignIn(c echo.Context, email string, devices []devicecookie.Device) (*models.Attempt, error) {
	email = models.CanonicalEmail(email)
	if d, ok := h.devices.Find(devices, email); ok {
		device := models.AttemptCounter{Subject: "device:" + d.ID(), Throttle: deviceThrottle}
		a, err := h.store.BeginAttempt(c.Request().Context(), []models.AttemptCounter{device}, h.now())
		if err != nil || !a.Refused() {
			return a, err
		}
		h.logFor(c).Warn("device locked out by its own failures; counted as an unknown browser", "email", email, "ip", c.RealIP())
	}
	return h.beginUnknownAttempt(c, email)
}

// beginUnknownAttempt counts an attempt on the account's and the client
// address's counters.
func (h *Handlers) beginUnknownAttempt(c echo.Context, email string) (*models.Attempt, error) {
	return h.store.BeginAttempt(c.Request().Context(), []models.AttemptCounter{
		{Subject: h.accountSubject(email), Throttle: accountThrottle},
		h.addressCounter(c),
	}, h.now())
}

// addressCounter is the client address's counter, which every sign-in
// attempt from it is charged to (a passkey's alone, naming no account).
func (h *Handlers) addressCounter(c echo.Context) models.AttemptCounter {
	return models.AttemptCounter{Subject: "address:" + cut(clientNetwork(c.RealIP()), maxAddressLen), Throttle: addressThrottle}
}

// beginPasswordCheck counts a signed-in person's attempt to prove their
// current password on their own counter.
func (h *Handlers) beginPasswordCheck(c echo.Context, userID int64) (*models.Attempt, error) {
	return h.store.BeginAttempt(c.Request().Context(), []models.AttemptCounter{
		{Subject: "user:" + strconv.FormatInt(userID, 10), Throttle: accountThrottle},
	}, h.now())
}

// accountSubject names the account's counter by a keyed hash of its email
// (every spelling that signs in to it gives the same): the table then
// tells no one, not even a query injected into it, which emails were tried.
func (h *Handlers) accountSubject(email string) string {
	m := hmac.New(sha256.New, h.secrets.SignInCounter)
	m.Write([]byte(models.CanonicalEmail(email)))
	return "account:" + hex.EncodeToString(m.Sum(nil))
}

// maxAddressLen bounds an address counter's subject; a real address is
// far shorter.
const maxAddressLen = 254

// cut shortens s to at most n bytes, on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// clientNetwork is what one client's address counter is for: its IPv4
// address, or its IPv6 /64, since one machine commonly holds a whole /64.
func clientNetwork(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil || parsed.To4() != nil {
		return ip
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// rememberDevice gives the browser a fresh device cookie entry for the
// account it just signed in to, beside those of its other accounts.
func (h *Handlers) rememberDevice(c echo.Context, email string, devices []devicecookie.Device) {
	devices = devicecookie.Remember(devices, h.devices.Issue(models.CanonicalEmail(email), h.now()))
	c.SetCookie(&http.Cookie{ //nolint:gosec // G124: Secure whenever Canopy is served over https; a development server on http cannot set it
		Name: h.deviceCookieName(), Value: h.devices.Encode(devices), Path: "/",
		MaxAge: int(devicecookie.Lifetime / time.Second), HttpOnly: true, Secure: h.cfg.Secure(), SameSite: http.SameSiteLaxMode,
	})
}

// retryLater sets Retry-After for a refused attempt and says in words when
// the person may try again.
func (h *Handlers) retryLater(c echo.Context, a *models.Attempt) string {
	seconds := max(int(math.Ceil(a.RetryAt.Sub(h.now()).Seconds())), 1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(seconds))
	return "Try again in " + waitInWords(seconds) + "."
}

func waitInWords(seconds int) string {
	if seconds < 60 {
		return plural(seconds, "second")
	}
	return plural((seconds+59)/60, "minute")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
