package handlers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"canopy/internal/sealbox"
	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// Two-factor sign-in (docs/product.md, Two-factor sign-in): an
// authenticator app (RFC 6238, github.com/pquerna/otp) and one-time
// recovery codes, set up on Account → Two-factor and asked for on the
// sign-in's second step, /login/two-factor. Passkeys are the other second
// factor (their own pages); single sign-on is never asked for one, the
// identity provider is.

// totpIssuer is the name authenticator apps list Canopy's codes under.
const totpIssuer = "Canopy"

// The QR code's picture: the code, and the white margin around it.
const qrSize, qrMargin = 208, 16

// The sign-in waiting for its second factor, in the (not yet signed-in)
// session of the base domain: whose, at which session version, since
// when, and where the sign-in form was going.
const (
	keyPendingUser    = "2fa_uid"
	keyPendingVersion = "2fa_sv"
	keyPendingAt      = "2fa_at"
	keyPendingTenant  = "2fa_tenant"
	keyPendingNext    = "2fa_next"
	keyPendingState   = "2fa_state"
)

// pendingSignInLifetime is how long the second step waits after the
// password was right.
const pendingSignInLifetime = 5 * time.Minute

// secondFactorThrottle slows down guessing codes: per person, in the
// database like the sign-in counters, and cleared by a right code. Six
// digits and three accepted steps make a guess about 1 in 330,000; five
// free tries, then a wait that doubles up to a quarter of an hour.
var secondFactorThrottle = models.Throttle{Free: 5, FirstDelay: 30 * time.Second, MaxDelay: 15 * time.Minute, ResetOnSuccess: true}

// beginSecondFactorAttempt counts an attempt at the second step on the
// person's own counter, whichever factor answers it.
func (h *Handlers) beginSecondFactorAttempt(c echo.Context, userID int64) (*models.Attempt, error) {
	return h.store.BeginAttempt(c.Request().Context(), []models.AttemptCounter{
		{Subject: "second-factor:" + strconv.FormatInt(userID, 10), Throttle: secondFactorThrottle},
	}, h.now())
}

// pendingSignIn is a sign-in whose password was right, waiting for its
// second factor.
type pendingSignIn struct {
	userID, version     int64
	tenant, next, state string
}

// askSecondFactor keeps the sign-in pending in a fresh session (nothing of
// the visitor's earlier one survives, its CSRF token included) and sends
// the browser to the second step.
func (h *Handlers) askSecondFactor(c echo.Context, u *models.User, form pages.LoginForm) error {
	h.resetSession(c)
	v := stateOf(c).session.Values
	v[keyPendingUser], v[keyPendingVersion], v[keyPendingAt] = u.ID, u.SessionVersion, h.now().Unix()
	v[keyPendingTenant], v[keyPendingNext], v[keyPendingState] = form.Tenant, form.Next, form.State
	h.logFor(c).Info("password right; asking for the second factor", "user", u.ID, "ip", c.RealIP())
	return c.Redirect(http.StatusSeeOther, views.LoginTwoFactorPath)
}

// pendingSignIn is the session's sign-in waiting for its second factor,
// if it has one that has not expired.
func (h *Handlers) pendingSignIn(c echo.Context) (pendingSignIn, bool) {
	v := stateOf(c).session.Values
	uid, _ := v[keyPendingUser].(int64)
	at, _ := v[keyPendingAt].(int64)
	if uid == 0 || h.now().Sub(time.Unix(at, 0)) >= pendingSignInLifetime {
		return pendingSignIn{}, false
	}
	p := pendingSignIn{userID: uid}
	p.version, _ = v[keyPendingVersion].(int64)
	p.tenant, _ = v[keyPendingTenant].(string)
	p.next, _ = v[keyPendingNext].(string)
	p.state, _ = v[keyPendingState].(string)
	return p, true
}

// signInAgain ends a pending sign-in that cannot go on (expired, or its
// person changed meanwhile) and sends the browser back to sign in.
func (h *Handlers) signInAgain(c echo.Context) error {
	v := stateOf(c).session.Values
	tenant, _ := v[keyPendingTenant].(string)
	next, _ := v[keyPendingNext].(string)
	h.resetSession(c)
	h.flash(c, "error", "Your sign-in timed out. Sign in again.")
	return c.Redirect(http.StatusSeeOther, h.loginURL(tenant, next))
}

// pendingFactors reads the pending person and their second factors — the
// authenticator app (nil when they have none) and whether they have a
// passkey — in their own scope: the request has no user yet, and the
// password checked a moment ago is the reason the database cannot know. A
// person no longer active, or whose sessions were ended since (a new
// password), is ErrNotFound.
func (h *Handlers) pendingFactors(c echo.Context, p pendingSignIn) (pendingPerson, error) {
	var who pendingPerson
	err := h.store.Within(c.Request().Context(), models.Scope{UserID: p.userID}, func(ctx context.Context, tx *models.Store) error {
		var err error
		if who.user, err = tx.UserByID(ctx, p.userID); err != nil {
			return err
		}
		if who.user.SessionVersion != p.version || who.user.Status != models.UserActive || !who.user.TwoFactorEnabled {
			return models.ErrNotFound
		}
		status, err := tx.TwoFactorStatusOf(ctx, p.userID)
		if err != nil {
			return err
		}
		who.hasPasskey = status.Passkeys > 0
		who.app, err = tx.TOTPOf(ctx, p.userID)
		if errors.Is(err, models.ErrNotFound) || err == nil && !who.app.Confirmed() {
			who.app, err = nil, nil
		}
		return err
	})
	return who, err
}

// pendingPerson is who a pending sign-in is for, with their second factors.
type pendingPerson struct {
	user       *models.User
	app        *models.TOTP // nil: no authenticator app
	hasPasskey bool
}

// secondFactorForm is the step's form for them: the authenticator's code
// unless they have none (then a passkey, or else a recovery code), or a
// recovery code when asked for.
func (who pendingPerson) secondFactorForm(recovery bool) pages.SecondFactorForm {
	return pages.SecondFactorForm{
		Email: who.user.Email, HasApp: who.app != nil, HasPasskey: who.hasPasskey,
		Recovery: recovery || who.app == nil && !who.hasPasskey, Errors: map[string]string{},
	}
}

// pendingStep finds the sign-in waiting for its second step, and its
// person. answered: the request has had its answer already — off the base
// domain a 404, someone signed in sent home, nothing waiting (or no longer
// valid) sent to sign in again.
func (h *Handlers) pendingStep(c echo.Context) (p pendingSignIn, who pendingPerson, answered bool, err error) {
	rs := stateOf(c)
	if rs.tenant != nil {
		return p, who, true, errNotFound
	}
	if rs.user != nil {
		return p, who, true, c.Redirect(http.StatusSeeOther, "/")
	}
	p, ok := h.pendingSignIn(c)
	if !ok {
		return p, who, true, h.signInAgain(c)
	}
	who, err = h.pendingFactors(c, p)
	if errors.Is(err, models.ErrNotFound) {
		return p, who, true, h.signInAgain(c)
	}
	return p, who, err != nil, err
}

// secondFactorForm is the sign-in's second step.
func (h *Handlers) secondFactorForm(c echo.Context) error {
	_, who, answered, err := h.pendingStep(c)
	if answered || err != nil {
		return err
	}
	return h.renderSecondFactor(c, http.StatusOK, who.secondFactorForm(c.QueryParam("recovery") != ""))
}

func (h *Handlers) renderSecondFactor(c echo.Context, status int, f pages.SecondFactorForm) error {
	return h.render(c, status, pages.SecondFactor(h.shell(c, "Two-factor sign-in", ""), f))
}

// verifySecondFactor checks the code from the authenticator app, or a
// recovery code, and completes the sign-in. Attempts are counted on the
// person's own counter before the code is checked; a code is accepted
// once (models.UseTOTPCode), a recovery code too, and its use is kept in
// the account's record and mailed.
func (h *Handlers) verifySecondFactor(c echo.Context) error {
	p, who, answered, err := h.pendingStep(c)
	if answered || err != nil {
		return err
	}
	u, app := who.user, who.app
	recovery := c.FormValue("method") == "recovery" || app == nil
	form := who.secondFactorForm(recovery)
	field, typed := "code", models.NormalizeTOTPCode(c.FormValue("code"))
	if recovery {
		field, typed = "recovery_code", normalizeRecoveryCode(c.FormValue("recovery_code"))
	}
	if typed == "" {
		form.Errors[field] = missingCodeMessage(recovery)
		return h.renderSecondFactor(c, http.StatusUnprocessableEntity, form)
	}
	attempt, err := h.beginSecondFactorAttempt(c, u.ID)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		h.logFor(c).Warn("second factor refused: too many attempts", "user", u.ID, "ip", c.RealIP())
		form.Error = "Too many attempts. " + h.retryLater(c, attempt)
		return h.renderSecondFactor(c, http.StatusTooManyRequests, form)
	}
	left := 0
	err = h.store.Within(c.Request().Context(), models.Scope{UserID: u.ID}, func(ctx context.Context, tx *models.Store) error {
		if recovery {
			left, err = tx.UseRecoveryCode(ctx, u.ID, h.recoveryCodeHash(typed))
			return err
		}
		secret, err := h.totpBox().Open(app.SecretSealed, totpBinding(u.ID))
		if err != nil {
			return fmt.Errorf("open authenticator secret: %w", err)
		}
		return tx.UseTOTPCode(ctx, u.ID, secret, typed)
	})
	switch {
	case errors.Is(err, models.ErrTOTPCodeWrong), errors.Is(err, models.ErrRecoveryCodeWrong):
		h.logFor(c).Info("second factor refused: wrong code", "user", u.ID, "recovery", recovery, "ip", c.RealIP())
		form.Errors[field] = wrongCodeMessage(recovery)
		return h.renderSecondFactor(c, http.StatusUnauthorized, form)
	case errors.Is(err, models.ErrTOTPCodeUsed):
		h.logFor(c).Info("second factor refused: code used before", "user", u.ID, "ip", c.RealIP())
		form.Errors[field] = "This code was already used. Wait for the next one in your app."
		return h.renderSecondFactor(c, http.StatusUnauthorized, form)
	case err != nil:
		return err
	}
	if err := h.store.AttemptSucceeded(c.Request().Context(), attempt); err != nil {
		return err
	}
	if !recovery {
		return h.completeSignIn(c, u, p.tenant, p.next, p.state, models.SessionByPasswordAuthenticator)
	}
	if err := h.establishSignIn(c, u, p.tenant, models.SessionByPasswordRecoveryCode); err != nil {
		return err
	}
	if err := h.recordAccountChange(c, u, models.AccountRecoveryCodeUsed, codesLeftInWords(left)); err != nil {
		return err
	}
	// The person may have lost their phone: the page says how many codes
	// are left, and where to set up a new factor, before going on.
	return h.render(c, http.StatusOK, pages.RecoveryCodeUsed(h.shell(c, "Signed in with a recovery code", ""),
		pages.RecoveryCodeUsedData{Left: left, Continue: h.continueURL(p), Manage: h.cfg.BaseLink(views.AccountTwoFactorPath, nil)}))
}

func missingCodeMessage(recovery bool) string {
	if recovery {
		return "Enter one of your recovery codes."
	}
	return "Enter the six-digit code from your app."
}

func wrongCodeMessage(recovery bool) string {
	if recovery {
		return "This recovery code is not correct, or was already used."
	}
	return "The code is not correct. Check the time on your phone and try the newest code."
}

// continueURL goes on from a completed sign-in the way continueSignIn
// does: /login of a signed-in person enters the company the form named.
func (h *Handlers) continueURL(p pendingSignIn) string {
	if p.tenant == "" {
		return h.cfg.BaseLink("/", nil)
	}
	q := url.Values{"tenant": {p.tenant}}
	if p.next != "" {
		q.Set("next", p.next)
	}
	if p.state != "" {
		q.Set("state", p.state)
	}
	return h.cfg.BaseLink("/login", q)
}

func codesLeftInWords(left int) string {
	if left == 1 {
		return "1 recovery code left"
	}
	return strconv.Itoa(left) + " recovery codes left"
}

// twoFactor is Account → Two-factor.
func (h *Handlers) twoFactor(c echo.Context) error {
	rs := stateOf(c)
	status, err := h.store.TwoFactorStatusOf(c.Request().Context(), rs.user.ID)
	if err != nil {
		return err
	}
	data := pages.TwoFactorData{Status: status}
	if data.Requiring, err = h.store.CompaniesRequiringTwoFactor(c.Request().Context(), rs.user.ID); err != nil {
		return err
	}
	if h.mustSetUpTwoFactor(rs) && !status.On() {
		data.RequiredBy = rs.tenant.Name
	}
	return h.render(c, http.StatusOK, pages.TwoFactor(h.shell(c, "Two-factor sign-in", ""), data))
}

// twoFactorSetup shows a new secret to add to an authenticator app: the
// one kept unconfirmed if the person already began, else a new one.
func (h *Handlers) twoFactorSetup(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountTwoFactorSetupPath)
	}
	rs := stateOf(c)
	ctx := c.Request().Context()
	app, err := h.store.TOTPOf(ctx, rs.user.ID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	if app != nil && app.Confirmed() {
		h.flash(c, "success", "Your authenticator app is already set up.")
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorPath)
	}
	var secret string
	if app != nil {
		secret, err = h.totpBox().Open(app.SecretSealed, totpBinding(rs.user.ID))
	}
	if app == nil || err != nil {
		if secret, err = h.startTOTP(c); err != nil {
			return err
		}
	}
	form, err := h.setupForm(rs.user, secret)
	if err != nil {
		return err
	}
	return h.renderSetup(c, http.StatusOK, form)
}

// startTOTP keeps a new unconfirmed secret for the person, sealed, and
// returns it.
func (h *Handlers) startTOTP(c echo.Context) (string, error) {
	u := stateOf(c).user
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Email, Period: models.TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", fmt.Errorf("make authenticator secret: %w", err)
	}
	err = h.store.StartTOTP(c.Request().Context(), u.ID, h.totpBox().Seal(key.Secret(), totpBinding(u.ID)))
	return key.Secret(), err
}

// setupForm is the setup page for a secret: its otpauth:// key as a QR
// code (a PNG drawn here, shown as a data: URI, which the CSP allows for
// images) and as text in groups of four.
func (h *Handlers) setupForm(u *models.User, secret string) (pages.TwoFactorSetupForm, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return pages.TwoFactorSetupForm{}, fmt.Errorf("read authenticator secret: %w", err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Email, Period: models.TOTPPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Secret: raw})
	if err != nil {
		return pages.TwoFactorSetupForm{}, fmt.Errorf("make authenticator key: %w", err)
	}
	code, err := key.Image(qrSize, qrSize)
	if err != nil {
		return pages.TwoFactorSetupForm{}, fmt.Errorf("draw QR code: %w", err)
	}
	// The white margin (quiet zone) a camera needs to find the code, in
	// the picture itself, so a dark page around it does not matter.
	img := image.NewGray(image.Rect(0, 0, qrSize+2*qrMargin, qrSize+2*qrMargin))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	draw.Draw(img, code.Bounds().Add(image.Pt(qrMargin, qrMargin)), code, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return pages.TwoFactorSetupForm{}, fmt.Errorf("draw QR code: %w", err)
	}
	return pages.TwoFactorSetupForm{
		QRCode:  templ.SafeURL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())),
		Secret:  groupsOf(strings.ToLower(secret), 4),
		Account: u.Email,
		Errors:  map[string]string{},
	}, nil
}

func (h *Handlers) renderSetup(c echo.Context, status int, f pages.TwoFactorSetupForm) error {
	return h.render(c, status, pages.TwoFactorSetup(h.shell(c, "Set up an authenticator app", ""), f))
}

// confirmTwoFactor turns the app on with its first code, and shows the
// person's new recovery codes, once.
func (h *Handlers) confirmTwoFactor(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountTwoFactorSetupPath)
	}
	rs := stateOf(c)
	ctx := c.Request().Context()
	app, err := h.store.TOTPOf(ctx, rs.user.ID)
	if errors.Is(err, models.ErrNotFound) || err == nil && app.Confirmed() {
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorSetupPath)
	}
	if err != nil {
		return err
	}
	secret, err := h.totpBox().Open(app.SecretSealed, totpBinding(rs.user.ID))
	if err != nil {
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorSetupPath) // a new secret is made there
	}
	form, err := h.setupForm(rs.user, secret)
	if err != nil {
		return err
	}
	code := models.NormalizeTOTPCode(c.FormValue("code"))
	if code == "" {
		form.Errors["code"] = "Enter the six-digit code from your app."
		return h.renderSetup(c, http.StatusUnprocessableEntity, form)
	}
	codes, hashes := h.newRecoveryCodes()
	err = h.store.ConfirmTOTP(ctx, models.TOTPConfirmation{UserID: rs.user.ID, Sealed: app.SecretSealed, Secret: secret, Code: code, RecoveryHashes: hashes})
	switch {
	case errors.Is(err, models.ErrTOTPCodeWrong):
		form.Errors["code"] = "The code is not correct. Check the app shows the code for Canopy, and that your phone’s time is right."
		return h.renderSetup(c, http.StatusUnprocessableEntity, form)
	case errors.Is(err, models.ErrTOTPSetupChanged):
		h.flash(c, "error", "The setup was started again in another window. Scan the new code.")
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorSetupPath)
	case err != nil:
		return err
	}
	if err := h.recordAccountChange(c, rs.user, models.AccountTOTPEnabled, "with ten new recovery codes"); err != nil {
		return err
	}
	h.logFor(c).Info("authenticator app turned on", "user", rs.user.ID, "ip", c.RealIP())
	return h.render(c, http.StatusOK, pages.RecoveryCodes(h.shell(c, "Two-factor sign-in is on", ""), h.recoveryCodesData(c, codes, "a code from your app")))
}

// disableTwoFactor removes the authenticator app.
func (h *Handlers) disableTwoFactor(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountTwoFactorPath)
	}
	rs := stateOf(c)
	stillOn, err := h.store.DisableTOTP(c.Request().Context(), rs.user.ID)
	if errors.Is(err, models.ErrNotFound) {
		h.flash(c, "success", "No authenticator app is set up.")
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorPath)
	}
	if err != nil {
		return err
	}
	detail := "recovery codes removed"
	if stillOn {
		detail = "passkeys remain"
	}
	if err := h.recordAccountChange(c, rs.user, models.AccountTOTPDisabled, detail); err != nil {
		return err
	}
	h.logFor(c).Info("authenticator app turned off", "user", rs.user.ID, "ip", c.RealIP())
	h.flash(c, "success", "The authenticator app is off.")
	return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorPath)
}

// newRecoveryCodesPage replaces every recovery code and shows the new ones.
func (h *Handlers) newRecoveryCodesPage(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountTwoFactorPath)
	}
	rs := stateOf(c)
	ctx := c.Request().Context()
	status, err := h.store.TwoFactorStatusOf(ctx, rs.user.ID)
	if err != nil {
		return err
	}
	if !status.On() {
		h.flash(c, "error", "Turn on two-factor sign-in first: recovery codes come with it.")
		return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorPath)
	}
	codes, hashes := h.newRecoveryCodes()
	if err := h.store.ReplaceRecoveryCodes(ctx, rs.user.ID, hashes); err != nil {
		return err
	}
	if err := h.recordAccountChange(c, rs.user, models.AccountRecoveryCodesCreated, ""); err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.RecoveryCodes(h.shell(c, "New recovery codes", ""), h.recoveryCodesData(c, codes, "")))
}

// recoveryCodesData shows codes just made. factor is what the second step
// asks for now that two-factor sign-in was just turned on ("" when the
// codes replace earlier ones). A company that sent the person to set it
// up is where they go on to once the codes are saved.
func (h *Handlers) recoveryCodesData(c echo.Context, codes []string, factor string) pages.RecoveryCodesData {
	u := stateOf(c).user
	text := "Canopy recovery codes for " + u.Email + ", made " + views.FormatTime(h.now(), time.UTC) +
		"\n\nEach code signs you in once, in place of your authenticator app or passkey. Earlier codes no longer work.\n\n" +
		strings.Join(codes, "\n") + "\n"
	next := views.AccountTwoFactorPath
	if t := stateOf(c).tenant; t != nil && t.RequireTwoFactor {
		next = "/"
	}
	return pages.RecoveryCodesData{Codes: codes, JustOn: factor != "", Factor: factor, Continue: next,
		Download: templ.SafeURL("data:text/plain;charset=utf-8," + url.PathEscape(text))}
}

// giveFirstRecoveryCodes makes recovery codes for a person who has none —
// their first second factor was just added — so that losing it does not
// lock them out. It returns the codes, or none when they had some.
func (h *Handlers) giveFirstRecoveryCodes(c echo.Context) ([]string, error) {
	rs := stateOf(c)
	status, err := h.store.TwoFactorStatusOf(c.Request().Context(), rs.user.ID)
	if err != nil || status.CodesLeft > 0 {
		return nil, err
	}
	codes, hashes := h.newRecoveryCodes()
	if err := h.store.ReplaceRecoveryCodes(c.Request().Context(), rs.user.ID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// totpBox seals authenticator secrets, with their own key.
func (h *Handlers) totpBox() *sealbox.Box { return mustSealBox(h.secrets.TOTPSecret) }

// totpBinding binds a sealed secret to its person: copied onto another
// person's row, it does not open.
func totpBinding(userID int64) string { return "totp:" + strconv.FormatInt(userID, 10) }

// recoveryAlphabet is Crockford's base 32: no I, L, O or U, so a code
// read aloud or copied by hand is not mistaken.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newRecoveryCodes makes the person's recovery codes, each ten random
// characters (50 bits) shown as xxxxx-xxxxx, and their keyed hashes.
func (h *Handlers) newRecoveryCodes() (codes, hashes []string) {
	for range models.RecoveryCodeCount {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for i := range b {
			b[i] = recoveryAlphabet[b[i]&31] // 256 is a multiple of 32: every character equally likely
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, h.recoveryCodeHash(normalizeRecoveryCode(code)))
	}
	return codes, hashes
}

// normalizeRecoveryCode is a code as stored: lower case, without the
// hyphen or spaces, and with the letters Crockford's alphabet reads as
// digits (O as 0; I and L as 1) read so.
func normalizeRecoveryCode(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\t':
			return -1
		case 'o':
			return '0'
		case 'i', 'l':
			return '1'
		}
		return r
	}, s)
}

// recoveryCodeHash is the keyed hash a recovery code is stored as
// (HMAC-SHA256 with a key derived from the server's secret): the codes
// are random enough that a slow hash adds nothing, and without the key a
// copy of the database cannot be searched for one.
func (h *Handlers) recoveryCodeHash(normalized string) string {
	m := hmac.New(sha256.New, h.secrets.RecoveryCode)
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil))
}

// groupsOf splits s into groups of n characters, for reading.
func groupsOf(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%n == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mustSetUpTwoFactor tells whether the request's person is a member of
// the host's company, which requires two-factor sign-in, and has no
// second factor. The rule is the company's own: a company above it that
// requires it does not impose it on the companies below (each decides for
// its own members, and the platform's rule for its staff would otherwise
// reach every customer).
func (h *Handlers) mustSetUpTwoFactor(rs *requestState) bool {
	return rs.tenant != nil && rs.tenant.RequireTwoFactor && rs.user != nil && rs.membership != nil && !rs.user.TwoFactorEnabled
}

// requireTwoFactor sends a member of a company that requires two-factor
// sign-in, who has no second factor yet, to set one up: every page of the
// company redirects there, and any of its forms is refused; their own
// account's pages, signing out and the sign-in's steps stay open.
// A member who signs in only through single sign-on (no password) is not
// asked: their identity provider is responsible for their second factor.
func (h *Handlers) requireTwoFactor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rs := stateOf(c)
		if !h.mustSetUpTwoFactor(rs) || mayPassWithoutTwoFactor(c.Request().URL.Path) {
			return next(c)
		}
		methods, err := h.store.SignInMethods(c.Request().Context(), rs.tenant.ID, []int64{rs.user.ID})
		if err != nil {
			return err
		}
		if m := methods[rs.user.ID]; m.SSO && !m.Password {
			return next(c)
		}
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead:
			return c.Redirect(http.StatusSeeOther, views.AccountTwoFactorPath+"?required=1")
		}
		return &pageError{status: http.StatusForbidden, heading: rs.tenant.Name + " requires two-factor sign-in",
			message: rs.tenant.Name + " requires two-factor sign-in. Set it up to continue.",
			href:    views.AccountTwoFactorPath + "?required=1", label: "Set up two-factor sign-in"}
	}
}

// mayPassWithoutTwoFactor are the paths a member who must set up
// two-factor sign-in can still reach: their own account's pages (where
// they set it up, confirm it is them, and the rest, which the base domain
// shows them anyway: none is the company's), signing out, and the
// sign-in's own steps.
func mayPassWithoutTwoFactor(path string) bool {
	return strings.HasPrefix(path, "/account/") || path == "/logout" || strings.HasPrefix(path, "/auth/")
}

// beginSecondFactorPasskey gives the options for the pending person to
// prove their second factor with one of their own passkeys.
func (h *Handlers) beginSecondFactorPasskey(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	p, ok := h.pendingSignIn(c)
	if !ok {
		return writeJSON(c, http.StatusUnprocessableEntity, passkeyProblem{Error: "Your sign-in timed out. Sign in again.", Redirect: h.loginURL("", "")})
	}
	return h.answerPasskeyAssertion(c, p.userID, "You have no passkey. Use your authenticator app or a recovery code.")
}

// verifySecondFactorPasskey completes a sign-in whose second factor is
// one of the person's passkeys. Attempts count on the same counter as
// the codes.
func (h *Handlers) verifySecondFactorPasskey(c echo.Context) error {
	p, who, answered, err := h.pendingStep(c)
	if answered || err != nil {
		return err
	}
	form := who.secondFactorForm(false)
	answer := c.FormValue("credential")
	if answer == "" {
		h.takeCeremony(c, ceremonyAssert)
		form.Error = unsupportedBrowser
		return h.renderSecondFactor(c, http.StatusUnprocessableEntity, form)
	}
	attempt, err := h.beginSecondFactorAttempt(c, who.user.ID)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		h.takeCeremony(c, ceremonyAssert)
		form.Error = "Too many attempts. " + h.retryLater(c, attempt)
		return h.renderSecondFactor(c, http.StatusTooManyRequests, form)
	}
	if _, err := h.verifyPasskeyAssertion(c, who.user.ID, answer); err != nil {
		h.logFor(c).Info("second factor refused: passkey", "user", who.user.ID, "ip", c.RealIP(), "reason", passkeyReason(err))
		form.Error = "That passkey did not sign you in. Try again, or use another way."
		return h.renderSecondFactor(c, http.StatusUnauthorized, form)
	}
	if err := h.store.AttemptSucceeded(c.Request().Context(), attempt); err != nil {
		return err
	}
	return h.completeSignIn(c, who.user, p.tenant, p.next, p.state, models.SessionByPasswordPasskey)
}
