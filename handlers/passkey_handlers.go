package handlers

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/labstack/echo/v4"

	"canopy/internal/config"
	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// Passkeys (WebAuthn), with go-webauthn doing the ceremonies' checks:
//
//   - The relying party is the base domain's hostname, so one passkey works
//     on the base domain and on every company's address below it. Each
//     ceremony is bound to the origin of the host it began on, built from
//     the configuration (never from the Host header beyond what
//     resolveHost accepted), and kept in that host's session cookie
//     between its two steps: an answer collected at another origin, or
//     brought to another host, does not complete it.
//   - Passkeys are discoverable and verify the person (a PIN, a
//     fingerprint): signing in with one is two factors at once.
//   - Before anyone is signed in, the passkey's person is found by its
//     credential id alone (Store.PasskeyOwner, an owner's function on
//     PostgreSQL); everything else is read in that person's scope.
//
// The browser's side is static/js/passkeys.js: it asks a begin route for
// the options (JSON), lets the browser make or use the passkey, and posts
// the answer in an ordinary form, so the finishing routes answer as every
// other form does (a redirect, or the page again with the problem).

// passkeyTimeout is how long a person has between a ceremony's two steps.
const passkeyTimeout = 5 * time.Minute

// newRelyingParty is Canopy as a WebAuthn relying party: made once, with
// the base domain's origin; company hosts' origins are bound per ceremony
// (keepCeremony).
func newRelyingParty(cfg *config.Config) (*webauthn.WebAuthn, error) {
	uv := protocol.VerificationRequired
	required := true
	return webauthn.New(&webauthn.Config{
		RPID:                  cfg.BaseURL.Hostname(),
		RPDisplayName:         "Canopy",
		RPOrigins:             []string{cfg.BaseLink("", nil)},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: &required,
			UserVerification:   uv,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: passkeyTimeout, TimeoutUVD: passkeyTimeout},
		},
	})
}

// mustRelyingParty makes the relying party for a configuration already
// validated: a failure here is a programming error.
func mustRelyingParty(cfg *config.Config) *webauthn.WebAuthn {
	rp, err := newRelyingParty(cfg)
	if err != nil {
		panic(err)
	}
	return rp
}

// ceremony names what a ceremony kept in the session is for, so an answer
// to one kind cannot finish another.
type ceremony string

const (
	ceremonyRegister ceremony = "passkey.register" // adding a passkey
	ceremonySignIn   ceremony = "passkey.signin"   // signing in, anyone's passkey
	ceremonyAssert   ceremony = "passkey.assert"   // a known person proving it is them
)

// hostOrigin is the origin of the request's host, from the configuration.
func (h *Handlers) hostOrigin(c echo.Context) string {
	if t := stateOf(c).tenant; t != nil {
		return h.cfg.TenantURL(t.Subdomain, "")
	}
	return h.cfg.BaseLink("", nil)
}

// passkeysWorkHere tells whether a browser lets this host use the base
// domain's passkeys. It does below a real domain (canopy.example.com); a
// base domain of one label (localhost, in development) is a registry of
// its own to browsers, so its companies' addresses cannot claim it, and
// passkeys are added and used on the base domain itself.
func (h *Handlers) passkeysWorkHere(c echo.Context) bool {
	return stateOf(c).tenant == nil || strings.Contains(h.cfg.BaseURL.Hostname(), ".")
}

// keepCeremony binds a ceremony just begun to this host's origin and keeps
// it in this host's session until it is finished or replaced.
func (h *Handlers) keepCeremony(c echo.Context, kind ceremony, data *webauthn.SessionData) error {
	data.Origin = h.hostOrigin(c)
	encoded, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("keep passkey ceremony: %w", err)
	}
	rs := stateOf(c)
	rs.session.Values[string(kind)] = string(encoded)
	rs.dirty = true
	return nil
}

// takeCeremony removes the session's ceremony of this kind and returns it:
// each works once, whatever its answer.
func (h *Handlers) takeCeremony(c echo.Context, kind ceremony) (webauthn.SessionData, bool) {
	rs := stateOf(c)
	var data webauthn.SessionData
	encoded, ok := rs.session.Values[string(kind)].(string)
	if !ok {
		return data, false
	}
	delete(rs.session.Values, string(kind))
	rs.dirty = true
	return data, json.Unmarshal([]byte(encoded), &data) == nil
}

// passkeyUser is a person as the WebAuthn library sees them.
type passkeyUser struct {
	user   *models.User
	handle []byte
	keys   []models.Passkey
}

func (p *passkeyUser) WebAuthnID() []byte          { return p.handle }
func (p *passkeyUser) WebAuthnName() string        { return p.user.Email }
func (p *passkeyUser) WebAuthnDisplayName() string { return p.user.Name() }
func (p *passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	creds := make([]webauthn.Credential, len(p.keys))
	for i, k := range p.keys {
		creds[i] = credentialOf(k)
	}
	return creds
}

// keyByCredential is the person's passkey with this credential id.
func (p *passkeyUser) keyByCredential(id []byte) (*models.Passkey, bool) {
	for i := range p.keys {
		if bytes.Equal(p.keys[i].CredentialID, id) {
			return &p.keys[i], true
		}
	}
	return nil, false
}

// credentialOf is a stored passkey as the library checks answers against it.
// Every passkey was made with the person verified (Canopy requires it).
func credentialOf(k models.Passkey) webauthn.Credential {
	flags := protocol.FlagUserPresent | protocol.FlagUserVerified
	if k.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if k.BackupState {
		flags |= protocol.FlagBackupState
	}
	transports := make([]protocol.AuthenticatorTransport, 0, len(k.TransportList()))
	for _, t := range k.TransportList() {
		transports = append(transports, protocol.AuthenticatorTransport(t))
	}
	return webauthn.Credential{
		ID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: k.AttestationType, Transport: transports,
		Flags:         webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: uint32(min(max(k.SignCount, 0), 1<<32-1))},
	}
}

// loadPasskeyUser reads the person, their handle and passkeys in their own
// scope: the request's already for a signed-in person; for a sign-in, the
// reason is the passkey their browser named, which the database cannot know.
func (h *Handlers) loadPasskeyUser(c echo.Context, userID int64, makeHandle bool) (*passkeyUser, error) {
	p := &passkeyUser{}
	err := h.store.Within(c.Request().Context(), models.Scope{UserID: userID}, func(ctx context.Context, tx *models.Store) error {
		var err error
		if p.user, err = tx.UserByID(ctx, userID); err != nil {
			return err
		}
		if makeHandle {
			p.handle, err = tx.PasskeyHandle(ctx, userID)
		} else {
			p.handle, err = tx.FindPasskeyHandle(ctx, userID)
		}
		if err != nil {
			return err
		}
		p.keys, err = tx.Passkeys(ctx, userID)
		return err
	})
	return p, err
}

// writeJSON answers a begin route: options for the browser, never cached.
func writeJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, v)
}

// passkeyProblem is a begin route's refusal: a sentence for the page, and
// where to go instead when there is somewhere (to confirm it is you).
type passkeyProblem struct {
	Error    string `json:"error"`
	Redirect string `json:"redirect,omitempty"`
}

// Account → Passkeys ---------------------------------------------------

// passkeysPage lists the person's passkeys.
func (h *Handlers) passkeysPage(c echo.Context) error {
	return h.renderPasskeys(c, http.StatusOK, pages.PasskeysData{})
}

func (h *Handlers) renderPasskeys(c echo.Context, status int, d pages.PasskeysData) error {
	keys, err := h.store.Passkeys(c.Request().Context(), stateOf(c).user.ID)
	if err != nil {
		return err
	}
	d.Passkeys = keys
	d.AddHref = views.AccountPasskeysPath + "/new"
	if !h.passkeysWorkHere(c) {
		d.AddHref = h.cfg.BaseLink(d.AddHref, nil)
	}
	return h.render(c, status, pages.Passkeys(h.shell(c, "Passkeys", ""), d))
}

// newPasskeyForm is "Add a passkey", after the person confirmed it is them.
func (h *Handlers) newPasskeyForm(c echo.Context) error {
	if !h.passkeysWorkHere(c) {
		return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink(views.AccountPasskeysPath+"/new", nil))
	}
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountPasskeysPath+"/new")
	}
	return h.renderNewPasskey(c, http.StatusOK, pages.NewPasskeyForm{})
}

func (h *Handlers) renderNewPasskey(c echo.Context, status int, f pages.NewPasskeyForm) error {
	return h.render(c, status, pages.NewPasskey(h.shell(c, "Add a passkey", ""), f))
}

// beginAddPasskey gives the browser the options to make a passkey: this
// person's handle, their passkeys to exclude (an authenticator holding one
// already says so instead of making another), a discoverable credential
// with the person verified.
func (h *Handlers) beginAddPasskey(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return writeJSON(c, http.StatusForbidden, passkeyProblem{Error: "Confirm it’s you first.",
			Redirect: views.AccountConfirmPath + "?next=" + views.AccountPasskeysPath + "/new"})
	}
	p, err := h.loadPasskeyUser(c, stateOf(c).user.ID, true)
	if err != nil {
		return err
	}
	exclude := webauthn.Credentials(p.WebAuthnCredentials()).CredentialDescriptors()
	options, data, err := h.relyingParty.BeginRegistration(p, webauthn.WithExclusions(exclude))
	if err != nil {
		return fmt.Errorf("begin passkey registration: %w", err)
	}
	if err := h.keepCeremony(c, ceremonyRegister, data); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, options)
}

// addPasskey checks the authenticator's answer, keeps the passkey and tells
// the person (their record and a mail).
func (h *Handlers) addPasskey(c echo.Context) error {
	rs := stateOf(c)
	form := pages.NewPasskeyForm{Name: c.FormValue("name"), Errors: map[string]string{}}
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountPasskeysPath+"/new")
	}
	data, begun := h.takeCeremony(c, ceremonyRegister)
	answer := c.FormValue("credential")
	if answer == "" {
		form.Error = unsupportedBrowser
		return h.renderNewPasskey(c, http.StatusUnprocessableEntity, form)
	}
	if !begun {
		form.Error = "Adding the passkey took too long. Try again."
		return h.renderNewPasskey(c, http.StatusUnprocessableEntity, form)
	}
	p, err := h.loadPasskeyUser(c, rs.user.ID, false)
	if err != nil {
		return err
	}
	cred, err := h.verifyNewPasskey(p, data, answer)
	if err != nil {
		h.logFor(c).Info("passkey refused", "user", rs.user.ID, "ip", c.RealIP(), "reason", passkeyReason(err))
		form.Error = "The passkey could not be added. Try again, or use another device."
		return h.renderNewPasskey(c, http.StatusUnprocessableEntity, form)
	}
	key, err := h.store.AddPasskey(c.Request().Context(), models.NewPasskey{
		UserID: rs.user.ID, CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
		AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount, Transports: transportNames(cred.Transport),
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		Name: form.Name, DefaultName: authenticatorName(cred.Authenticator.AAGUID),
	})
	var fields models.FieldErrors
	switch {
	case errors.As(err, &fields):
		// The passkey exists on the authenticator now: ask for a name and
		// the browser to make it again, which replaces it there.
		form.Errors = fields
		return h.renderNewPasskey(c, http.StatusUnprocessableEntity, form)
	case errors.Is(err, models.ErrPasskeyExists):
		form.Error = "This passkey is already added to an account."
		return h.renderNewPasskey(c, http.StatusUnprocessableEntity, form)
	case err != nil:
		return err
	}
	h.logFor(c).Info("passkey added", "user", rs.user.ID, "passkey", key.ID)
	codes, err := h.giveFirstRecoveryCodes(c)
	if err != nil {
		return err
	}
	detail := key.Name
	if len(codes) > 0 {
		detail += ", with ten new recovery codes"
	}
	if err := h.recordAccountChange(c, rs.user, models.AccountPasskeyAdded, detail); err != nil {
		return err
	}
	if len(codes) > 0 {
		// Two-factor sign-in is on from now: the person keeps a way in
		// should the passkey be lost.
		return h.render(c, http.StatusOK, pages.RecoveryCodes(h.shell(c, "Two-factor sign-in is on", ""), h.recoveryCodesData(c, codes, "your passkey")))
	}
	h.flash(c, "success", "Passkey “"+key.Name+"” added. You can sign in with it.")
	return c.Redirect(http.StatusSeeOther, views.AccountPasskeysPath)
}

// verifyNewPasskey checks a registration answer against its ceremony.
func (h *Handlers) verifyNewPasskey(p *passkeyUser, data webauthn.SessionData, answer string) (*webauthn.Credential, error) {
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(answer))
	if err != nil {
		return nil, err
	}
	return h.relyingParty.CreateCredential(p, data, parsed)
}

// renamePasskey gives one of the person's passkeys a new name.
func (h *Handlers) renamePasskey(c echo.Context) error {
	rs := stateOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	key, err := h.store.RenamePasskey(c.Request().Context(), rs.user.ID, id, c.FormValue("name"))
	var fields models.FieldErrors
	if errors.As(err, &fields) {
		return h.renderPasskeys(c, http.StatusUnprocessableEntity, pages.PasskeysData{Renaming: id, RenameName: c.FormValue("name"), RenameError: fields["name"]})
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Passkey renamed “"+key.Name+"”.")
	return c.Redirect(http.StatusSeeOther, views.AccountPasskeysPath)
}

// removePasskey deletes one of the person's passkeys, after they confirmed
// it is them, and tells them.
func (h *Handlers) removePasskey(c echo.Context) error {
	rs := stateOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return errNotFound
	}
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, views.AccountPasskeysPath)
	}
	key, err := h.store.RemovePasskey(c.Request().Context(), rs.user.ID, id)
	if err != nil {
		return err
	}
	h.logFor(c).Info("passkey removed", "user", rs.user.ID, "passkey", key.ID)
	if err := h.recordAccountChange(c, rs.user, models.AccountPasskeyRemoved, key.Name); err != nil {
		return err
	}
	h.flash(c, "success", "Passkey “"+key.Name+"” removed. It no longer signs you in; you can delete it from the device too.")
	return c.Redirect(http.StatusSeeOther, views.AccountPasskeysPath)
}

// Signing in with a passkey ---------------------------------------------

// beginPasskeySignIn gives the sign-in page the options for any passkey
// of Canopy's (a discoverable credential: the browser offers the person's).
func (h *Handlers) beginPasskeySignIn(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	options, data, err := h.relyingParty.BeginDiscoverableLogin()
	if err != nil {
		return fmt.Errorf("begin passkey sign-in: %w", err)
	}
	if err := h.keepCeremony(c, ceremonySignIn, data); err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, options)
}

// unsupportedBrowser is what a form posted without a passkey's answer says:
// the browser ran no script, or has no passkeys.
const unsupportedBrowser = "This browser cannot use passkeys. Use another browser, or sign in another way."

// passkeySignIn checks the answer of a passkey and signs its person in,
// like the password does. Attempts count on the client address's counter
// (signin_throttle.go): no account is named before the answer is checked.
func (h *Handlers) passkeySignIn(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	form := h.postedSignInForm(c)
	inForce, target, err := h.offerSSO(c, &form)
	if err != nil {
		return err
	}
	refuse := func(status int, message string) error {
		form.Error = message
		return h.render(c, status, pages.Login(h.shell(c, "Sign in", ""), form))
	}
	data, begun := h.takeCeremony(c, ceremonySignIn)
	answer := c.FormValue("credential")
	if answer == "" {
		return refuse(http.StatusUnprocessableEntity, unsupportedBrowser)
	}
	if !begun {
		return refuse(http.StatusUnprocessableEntity, "Signing in with the passkey took too long. Try again.")
	}
	attempt, err := h.store.BeginAttempt(c.Request().Context(), []models.AttemptCounter{h.addressCounter(c)}, h.now())
	if err != nil {
		return err
	}
	if attempt.Refused() {
		h.logFor(c).Warn("passkey sign-in refused: too many attempts", "ip", c.RealIP())
		return refuse(http.StatusTooManyRequests, "Too many sign-in attempts. "+h.retryLater(c, attempt))
	}
	u, err := h.verifyDiscoverablePasskey(c, data, answer)
	if err != nil {
		h.logFor(c).Info("passkey sign-in refused", "ip", c.RealIP(), "reason", passkeyReason(err))
		return refuse(http.StatusUnauthorized, "This passkey did not sign you in. It may have been removed from your account; sign in with your password instead.")
	}
	if inForce != nil && mustUseSSO(inForce, u, target) {
		note := form.TenantName + " asks people at " + models.EmailDomain(u.Email) + " to sign in with single sign-on, not a passkey."
		return h.render(c, http.StatusOK, pages.SSOContinue(h.shell(c, "Single sign-on", ""), form.TenantName, h.ssoStartURL(form.Tenant, form.Next, u.Email), note))
	}
	if err := h.store.AttemptSucceeded(c.Request().Context(), attempt); err != nil {
		return err
	}
	// A passkey that verified its person is two factors already: no
	// second step follows.
	return h.completeSignIn(c, u, form.Tenant, form.Next, form.State, models.SessionByPasskey)
}

// errPasskeyUnknown refuses an answer whose passkey is nobody's now, or
// whose user handle is not its person's.
var errPasskeyUnknown = errors.New("passkey: not a passkey of this account")

// errPasskeyCloned refuses an answer whose counter did not move forward.
var errPasskeyCloned = errors.New("passkey: its counter went backwards (a cloned authenticator?)")

// verifyDiscoverablePasskey checks a sign-in answer: the passkey is
// someone's, the answer repeats their user handle, is signed by the key,
// for this ceremony and origin, with the person verified, and its counter
// moved forward. It returns the active person it signs in.
func (h *Handlers) verifyDiscoverablePasskey(c echo.Context, data webauthn.SessionData, answer string) (*models.User, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(answer))
	if err != nil {
		return nil, err
	}
	userID, handle, err := h.store.PasskeyOwner(c.Request().Context(), parsed.RawID)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errPasskeyUnknown
	}
	if err != nil {
		return nil, err
	}
	p, err := h.loadPasskeyUser(c, userID, false)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(p.handle, handle) || p.user.Status != models.UserActive {
		return nil, errPasskeyUnknown
	}
	_, cred, err := h.relyingParty.ValidatePasskeyLogin(func(_, userHandle []byte) (webauthn.User, error) {
		if !bytes.Equal(userHandle, p.handle) {
			return nil, errPasskeyUnknown
		}
		return p, nil
	}, data, parsed)
	if err != nil {
		return nil, err
	}
	if err := h.notePasskeyUsed(c, p, cred); err != nil {
		return nil, err
	}
	return p.user, nil
}

// notePasskeyUsed refuses a passkey whose counter went backwards (the
// library's clone warning), else records its use.
func (h *Handlers) notePasskeyUsed(c echo.Context, p *passkeyUser, cred *webauthn.Credential) error {
	key, ok := p.keyByCredential(cred.ID)
	if !ok {
		return errPasskeyUnknown
	}
	if cred.Authenticator.CloneWarning {
		h.logFor(c).Warn("passkey refused: its signature counter went backwards; the authenticator may be cloned",
			"user", p.user.ID, "passkey", key.ID, "stored", key.SignCount, "sent", cred.Authenticator.SignCount, "ip", c.RealIP())
		return errPasskeyCloned
	}
	use := models.PasskeyUse{UserID: p.user.ID, PasskeyID: key.ID, SignCount: cred.Authenticator.SignCount, BackupState: cred.Flags.BackupState}
	err := h.store.Within(c.Request().Context(), models.Scope{UserID: p.user.ID}, func(ctx context.Context, tx *models.Store) error {
		return tx.NotePasskeyUsed(ctx, use)
	})
	if errors.Is(err, models.ErrChangedMeanwhile) {
		return errPasskeyCloned // another use with the same counter won
	}
	return err
}

// A known person's passkey ----------------------------------------------

// errNoPasskeys: the person has no passkey to prove it is them with.
var errNoPasskeys = errors.New("passkey: the person has none")

// beginPasskeyAssertion gives the options for the person userID to prove
// it is them with one of their passkeys (those alone are allowed), and
// keeps the ceremony in this host's session. For confirming it is you,
// and for the second step of a sign-in with a password.
func (h *Handlers) beginPasskeyAssertion(c echo.Context, userID int64) (*protocol.CredentialAssertion, error) {
	p, err := h.loadPasskeyUser(c, userID, false)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errNoPasskeys
	}
	if err != nil {
		return nil, err
	}
	if len(p.keys) == 0 {
		return nil, errNoPasskeys
	}
	options, data, err := h.relyingParty.BeginLogin(p)
	if err != nil {
		return nil, fmt.Errorf("begin passkey assertion: %w", err)
	}
	if err := h.keepCeremony(c, ceremonyAssert, data); err != nil {
		return nil, err
	}
	return options, nil
}

// verifyPasskeyAssertion checks the answer to beginPasskeyAssertion for
// the same person: one of their passkeys, this ceremony, this origin, the
// person verified, its counter forward. It returns the passkey used; any
// refusal is an error to log, never to show.
func (h *Handlers) verifyPasskeyAssertion(c echo.Context, userID int64, answer string) (*models.Passkey, error) {
	data, begun := h.takeCeremony(c, ceremonyAssert)
	if !begun {
		return nil, errors.New("passkey: no ceremony begun")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(answer))
	if err != nil {
		return nil, err
	}
	p, err := h.loadPasskeyUser(c, userID, false)
	if err != nil {
		return nil, err
	}
	cred, err := h.relyingParty.ValidateLogin(p, data, parsed)
	if err != nil {
		return nil, err
	}
	if err := h.notePasskeyUsed(c, p, cred); err != nil {
		return nil, err
	}
	key, _ := p.keyByCredential(cred.ID)
	return key, nil
}

// beginConfirmWithPasskey starts "Confirm it's you" with a passkey.
func (h *Handlers) beginConfirmWithPasskey(c echo.Context) error {
	return h.answerPasskeyAssertion(c, stateOf(c).user.ID, "You have no passkey yet. Enter your password instead.")
}

// answerPasskeyAssertion answers a begin route with the options for
// userID to prove it is them with one of their passkeys, or, when they
// have none, with noPasskey for the page to show.
func (h *Handlers) answerPasskeyAssertion(c echo.Context, userID int64, noPasskey string) error {
	options, err := h.beginPasskeyAssertion(c, userID)
	if errors.Is(err, errNoPasskeys) {
		return writeJSON(c, http.StatusUnprocessableEntity, passkeyProblem{Error: noPasskey})
	}
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, options)
}

// confirmWithPasskey is "Confirm it's you" answered with a passkey.
// Attempts count on the person's own counter, like their password.
func (h *Handlers) confirmWithPasskey(c echo.Context) error {
	rs := stateOf(c)
	form := pages.ConfirmForm{Next: confirmNext(c.FormValue("next")), Errors: map[string]string{}}
	hasPassword, err := h.store.HasPassword(c.Request().Context(), rs.user.ID)
	if err != nil {
		return err
	}
	form.Password = hasPassword
	answer := c.FormValue("credential")
	if answer == "" {
		h.takeCeremony(c, ceremonyAssert)
		form.Error = unsupportedBrowser
		return h.renderConfirm(c, http.StatusUnprocessableEntity, form)
	}
	attempt, err := h.beginPasswordCheck(c, rs.user.ID)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		h.takeCeremony(c, ceremonyAssert)
		form.Error = "Too many attempts. " + h.retryLater(c, attempt)
		return h.renderConfirm(c, http.StatusTooManyRequests, form)
	}
	if _, err := h.verifyPasskeyAssertion(c, rs.user.ID, answer); err != nil {
		h.logFor(c).Info("confirmation refused: passkey", "user", rs.user.ID, "ip", c.RealIP(), "reason", passkeyReason(err))
		form.Error = "That passkey did not confirm it’s you. Try again, or enter your password."
		return h.renderConfirm(c, http.StatusUnprocessableEntity, form)
	}
	if err := h.currentPasswordProven(c, attempt); err != nil {
		return err
	}
	h.noteConfirmed(c)
	h.flash(c, "success", confirmedMessage)
	return c.Redirect(http.StatusSeeOther, form.Next)
}

// passkeyReason is why the library refused an answer, for the log: its
// details for developers, never shown to the person.
func passkeyReason(err error) string {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return perr.Details + " " + perr.DevInfo
	}
	return err.Error()
}

func transportNames(ts []protocol.AuthenticatorTransport) []string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = string(t)
	}
	return names
}

// authenticatorNames are the passkey providers people use most, by the
// AAGUID they give (the community's list of passkey authenticator
// AAGUIDs): a new passkey is named after its provider unless the person
// named it. Any other, and the all-zero AAGUID, leaves "Passkey N".
var authenticatorNames = map[string]string{
	"fbfc3007154e4ecc8c0b6e020557d7bd": "iCloud Keychain",
	"dd4ec289e01d41c9bb8970fa845d4bf2": "iCloud Keychain",
	"ea9b8d664d011d213ce4b6b48cb575d4": "Google Password Manager",
	"adce000235bcc60a648b0b25f1f05503": "Chrome on Mac",
	"771b48fdd3d44f749232fc157ab0507a": "Edge on Mac",
	"08987058cadc4b81b6e130de50dcbe96": "Windows Hello",
	"9ddd1817af5a4672a2b93e3dd95000a9": "Windows Hello",
	"6028b017b1d44c02b4b3afcdafc96bb2": "Windows Hello",
	"bada5566a7aa401fbd9645619a55120d": "1Password",
	"d548826e79b4db40a3d811116f7e8349": "Bitwarden",
}

// authenticatorName is the provider's name for an AAGUID, or "".
func authenticatorName(aaguid []byte) string {
	return authenticatorNames[hex.EncodeToString(aaguid)]
}
