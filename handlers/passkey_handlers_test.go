package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"canopy/internal/demo"
	"canopy/models"
)

// softKey is a software authenticator's passkey: a P-256 key, the user
// handle it was made for, and its signature counter (0 keeps none, as
// synced passkeys do).
type softKey struct {
	id      []byte
	private *ecdsa.PrivateKey
	handle  []byte
	count   uint32
	synced  bool
}

// options is what a begin route answered, as far as the tests read it.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		UserVerification string `json:"userVerification"`
	} `json:"publicKey"`
	Error    string `json:"error"`
	Redirect string `json:"redirect"`
}

var b64 = base64.RawURLEncoding

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := b64.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

// authData is the authenticator data: the RP ID's hash, the flags (user
// present and verified, backed up when synced), the counter, and what
// follows (the new credential, at registration).
func authData(rpID string, k *softKey, attested []byte) []byte {
	hash := sha256.Sum256([]byte(rpID))
	flags := byte(0x01 | 0x04) // UP, UV
	if k.synced {
		flags |= 0x08 | 0x10 // BE, BS
	}
	if attested != nil {
		flags |= 0x40 // AT
	}
	out := append(hash[:], flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	return append(out, attested...)
}

func clientData(t *testing.T, kind, challenge, origin string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newSoftKey makes a passkey for the options of a registration, at origin,
// and returns it with the answer the browser would post ("none" attestation).
func newSoftKey(t *testing.T, o options, origin string, synced bool) (*softKey, string) {
	t.Helper()
	private, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &softKey{id: make([]byte, 16), private: private, handle: mustDecode(t, o.PublicKey.User.ID), synced: synced}
	_, _ = rand.Read(k.id)
	x, y := make([]byte, 32), make([]byte, 32)
	private.PublicKey.X.FillBytes(x) //nolint:staticcheck // the COSE key needs the coordinates
	private.PublicKey.Y.FillBytes(y) //nolint:staticcheck
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: x, YCoord: y,
	})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16) // a zero AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(k.id)))
	attested = append(append(attested, k.id...), cose...)
	object, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData(o.PublicKey.RP.ID, k, attested)})
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData(t, "webauthn.create", o.PublicKey.Challenge, origin)),
			"attestationObject": b64.EncodeToString(object),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return k, string(answer)
}

// assert answers a sign-in's options with the key, at origin, moving its
// counter on by step (0: it keeps no counter).
func (k *softKey) assert(t *testing.T, o options, origin string, step uint32) string {
	t.Helper()
	k.count += step
	rpID := o.PublicKey.RPID
	data := authData(rpID, k, nil)
	client := clientData(t, "webauthn.get", o.PublicKey.Challenge, origin)
	clientHash := sha256.Sum256(client)
	digest := sha256.Sum256(append(append([]byte{}, data...), clientHash[:]...))
	signature, err := ecdsa.SignASN1(rand.Reader, k.private, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(k.id), "rawId": b64.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(client),
			"authenticatorData": b64.EncodeToString(data),
			"signature":         b64.EncodeToString(signature),
			"userHandle":        b64.EncodeToString(k.handle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return string(answer)
}

// begin posts to a begin route with the CSRF token of pageURL, as
// passkeys.js does, and reads the options.
func (b *browser) begin(pageURL, beginURL string) (response, options) {
	b.app.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, beginURL, nil)
	req.Header.Set("X-CSRF-Token", b.csrf(pageURL))
	req.Header.Set("Accept", "application/json")
	r := b.do(req)
	var o options
	if strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(r.body), &o); err != nil {
			b.app.t.Fatalf("%s: %v\n%s", beginURL, err, r.body)
		}
	}
	return r, o
}

// addPasskey adds a passkey on host as a signed-in person does, named name.
func (b *browser) addPasskey(host, name string, synced bool) (*softKey, response) {
	b.app.t.Helper()
	page := host + "/account/passkeys" // its CSRF token: the form itself is the base domain's on localhost
	r, o := b.begin(page, host+"/account/passkeys/new/begin")
	wantStatus(b.app.t, r, http.StatusOK)
	k, answer := newSoftKey(b.app.t, o, host, synced)
	return k, b.submit(page, host+"/account/passkeys/new", url.Values{"credential": {answer}, "name": {name}})
}

// wantPasskeyAdded: the passkey was added — the list again, or, for a
// person's first second factor, their new recovery codes.
func wantPasskeyAdded(t *testing.T, r response) {
	t.Helper()
	if r.status == http.StatusSeeOther && r.location == "/account/passkeys" {
		return
	}
	if r.status == http.StatusOK && strings.Contains(r.body, "Two-factor sign-in is on") && len(recoveryCodes.FindAllString(r.body, -1)) == 10 {
		return
	}
	t.Fatalf("adding a passkey: status %d, location %q", r.status, r.location)
}

// passkeySignIn signs in on the base domain's page with the key.
func (b *browser) passkeySignIn(k *softKey, query url.Values, step uint32) response {
	b.app.t.Helper()
	page := base + "/login"
	if len(query) > 0 {
		page += "?" + query.Encode()
	}
	r, o := b.begin(page, base+"/login/passkey/begin")
	wantStatus(b.app.t, r, http.StatusOK)
	form := url.Values{"credential": {k.assert(b.app.t, o, base, step)}}
	for _, field := range []string{"tenant", "next", "state"} {
		form.Set(field, query.Get(field))
	}
	return b.submit(page, base+"/login/passkey", form)
}

func (a *app) twoFactorOn(email string) bool {
	a.t.Helper()
	var on bool
	if err := a.db.Raw("SELECT two_factor_enabled FROM users WHERE email = ?", email).Scan(&on).Error; err != nil {
		a.t.Fatal(err)
	}
	return on
}

func (a *app) mailedSubjects(email string) []string {
	a.t.Helper()
	var subjects []string
	a.db.Raw("SELECT subject FROM outbox_emails WHERE to_address = ? ORDER BY id", email).Scan(&subjects)
	return subjects
}

// TestPasskeysAddRenameRemove: a person adds a passkey (right after
// signing in, which counts as confirming it is them), sees it listed,
// renames it, and removes it once they confirmed it is them again; each
// addition and removal is in their activity and mailed, and their account
// has a second factor exactly while a passkey is left.
func TestPasskeysAddRenameRemove(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	list := acme + "/account/passkeys"
	wantBody(t, b.follow(b.get(list)), "No passkeys yet", "Add a passkey")

	r, o := b.begin(list, acme+"/account/passkeys/new/begin")
	wantStatus(t, r, http.StatusOK)
	if o.PublicKey.RP.ID != "localhost" || o.PublicKey.AuthenticatorSelection.ResidentKey != "required" ||
		o.PublicKey.AuthenticatorSelection.UserVerification != "required" || len(mustDecode(t, o.PublicKey.User.ID)) != 32 {
		t.Fatalf("registration options: %+v", o.PublicKey)
	}
	handle := o.PublicKey.User.ID
	k, answer := newSoftKey(t, o, acme, true)
	added := b.submit(list, acme+"/account/passkeys/new", url.Values{"credential": {answer}})
	wantPasskeyAdded(t, added)
	page := b.follow(b.get(list))
	wantBody(t, page, "Passkey 1", "Synced to your other devices", "Never")
	if !a.twoFactorOn("dave@acme.test") {
		t.Fatal("a passkey added, yet the account has no second factor")
	}

	// The same handle next time, and the passkey excluded.
	_, again := b.begin(list, acme+"/account/passkeys/new/begin")
	if again.PublicKey.User.ID != handle || len(again.PublicKey.ExcludeCredentials) != 1 ||
		again.PublicKey.ExcludeCredentials[0].ID != b64.EncodeToString(k.id) {
		t.Fatalf("second registration: handle %q (was %q), excluded %+v", again.PublicKey.User.ID, handle, again.PublicKey.ExcludeCredentials)
	}
	// Named by the person, on the base domain this time.
	_, named := b.addPasskey(base, "  Work   laptop ", false)
	wantPasskeyAdded(t, named)
	wantBody(t, b.follow(named), "Passkey “Work laptop” added", "On one device or security key")

	id := a.passkeyID("dave@acme.test", "Passkey 1")
	renameAt := acme + "/account/passkeys/" + id + "/rename"
	wantBody(t, b.submit(list, renameAt, url.Values{"name": {" "}}), "Enter a name for the passkey.")
	renamed := b.submit(list, renameAt, url.Values{"name": {"Phone"}})
	wantStatus(t, renamed, http.StatusSeeOther)
	wantBody(t, b.follow(renamed), "Passkey renamed “Phone”")

	// Ten minutes on, removing asks to confirm it is you first.
	a.clock.advance(11 * time.Minute)
	removeAt := acme + "/account/passkeys/" + id + "/remove"
	asked := b.submit(list, removeAt, nil)
	wantStatus(t, asked, http.StatusSeeOther)
	if !strings.HasPrefix(asked.location, "/account/confirm?") {
		t.Fatalf("removing without confirming went to %q", asked.location)
	}
	// Offered on the base domain; localhost's companies cannot use its passkeys.
	wantBody(t, b.follow(b.get(base+"/account/confirm")), "Confirm it’s you", "Use a passkey")
	wantStatus(t, b.submit(acme+"/account/confirm", acme+"/account/confirm", url.Values{"password": {demo.Password}, "next": {"/account/passkeys"}}), http.StatusSeeOther)
	removed := b.submit(list, removeAt, nil)
	wantStatus(t, removed, http.StatusSeeOther)
	wantBody(t, b.follow(removed), "Passkey “Phone” removed")
	if !a.twoFactorOn("dave@acme.test") {
		t.Fatal("one passkey left, yet the account has no second factor")
	}
	wantStatus(t, b.submit(list, acme+"/account/passkeys/"+a.passkeyID("dave@acme.test", "Work laptop")+"/remove", nil), http.StatusSeeOther)
	if a.twoFactorOn("dave@acme.test") {
		t.Fatal("no passkey left, yet the account still has a second factor")
	}

	wantBody(t, b.follow(b.get(acme+"/account/activity")), "Passkey added", "Passkey removed", "Work laptop")
	want := []string{"Canopy: Passkey added", "Canopy: Passkey added", "Canopy: Passkey removed", "Canopy: Passkey removed"}
	if got := a.mailedSubjects("dave@acme.test"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("mailed %q, want %q", got, want)
	}
}

func (a *app) passkeyID(email, name string) string {
	a.t.Helper()
	var ids []string
	a.db.Raw("SELECT CAST(k.id AS TEXT) FROM user_passkeys AS k JOIN users AS u ON u.id = k.user_id WHERE u.email = ? AND k.name = ?", email, name).Scan(&ids)
	if len(ids) != 1 {
		a.t.Fatalf("%s's passkey %q: %v", email, name, ids)
	}
	return ids[0]
}

// TestAddingAPasskeyNeedsAFreshConfirmation: the form, its options and its
// answer each send someone who proved it was them too long ago to
// "Confirm it's you"; the options say where, for the script.
func TestAddingAPasskeyNeedsAFreshConfirmation(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	// On localhost, a company's address sends to the base domain's form.
	r := b.get(acme + "/account/passkeys/new")
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != base+"/account/passkeys/new" {
		t.Fatalf("the form at acme sent to %q", r.location)
	}
	a.clock.advance(11 * time.Minute)
	r = b.get(base + "/account/passkeys/new")
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/account/confirm?next=%2Faccount%2Fpasskeys%2Fnew" {
		t.Fatalf("the form sent to %q", r.location)
	}
	r, o := b.begin(acme+"/account/passkeys", acme+"/account/passkeys/new/begin")
	wantStatus(t, r, http.StatusForbidden)
	if !strings.HasPrefix(o.Redirect, "/account/confirm?next=") {
		t.Fatalf("options refused with %+v", o)
	}
	r = b.submit(acme+"/account/passkeys", acme+"/account/passkeys/new", url.Values{"credential": {"{}"}})
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.location, "/account/confirm?") {
		t.Fatalf("the answer sent to %q", r.location)
	}
	// Without a script there is no answer at all: said plainly.
	a.clock.advance(-11 * time.Minute)
	wantBody(t, b.submit(acme+"/account/passkeys", acme+"/account/passkeys/new", url.Values{"name": {"x"}}), "This browser cannot use passkeys")
}

// TestPasskeySignInLandsInTheCompany: a passkey added on Acme's address
// signs its person in on the base domain's sign-in page, with no password
// and no second step, into their company; the company's log says how, and
// the passkey's use is recorded.
func TestPasskeySignInLandsInTheCompany(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	owner := a.browser()
	owner.signIn("alice@acme.test", "acme")
	k, r := owner.addPasskey(tenantURL("acme", ""), "Laptop", false)
	wantPasskeyAdded(t, r)

	b := a.browser()
	wantBody(t, b.get(base+"/login"), "Sign in with a passkey", `autocomplete="username webauthn"`, "/static/js/passkeys.")
	in := b.follow(b.passkeySignIn(k, nil, 1))
	wantStatus(t, in, http.StatusOK)
	if !strings.HasPrefix(in.url, tenantURL("acme", "/")) {
		t.Fatalf("signed in with a passkey, landed on %s", in.url)
	}
	wantSignedIn(t, b, "acme", true)
	event := a.lastAuditOf("acme", models.AuditSignIn)
	if !strings.Contains(event, `"passkey"`) {
		t.Fatalf("the sign-in's audit detail: %s", event)
	}
	if used := owner.follow(owner.get(tenantURL("acme", "/account/passkeys"))); strings.Contains(used.body, "Never") {
		t.Fatal("the passkey's use was not recorded")
	}

	// Naming a company continues there, with its hand-off.
	c := a.browser()
	state := c.handoffState("globex")
	into := c.passkeySignIn(k, url.Values{"tenant": {"globex"}, "state": {state}}, 1)
	wantStatus(t, into, http.StatusSeeOther)
	if !strings.HasPrefix(into.location, tenantURL("globex", "/auth/handoff?")) {
		t.Fatalf("signed in for Globex, sent to %q", into.location)
	}
}

func (a *app) lastAuditOf(sub, action string) string {
	a.t.Helper()
	var details []string
	a.db.Raw("SELECT CAST(after AS TEXT) FROM audit_events WHERE tenant_id = ? AND action = ? ORDER BY id DESC LIMIT 1", a.tenant(sub).ID, action).Scan(&details)
	if len(details) == 0 {
		a.t.Fatalf("no %s in %s's log", action, sub)
	}
	return details[0]
}

// TestPasskeySignInRefusals: an answer to another challenge, from another
// origin, claiming another person's handle, with a counter that went
// backwards, of a removed passkey, or none at all (no script) signs nobody
// in; on a company's address the routes do not exist.
func TestPasskeySignInRefusals(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, dave := a.browser(), a.browser()
	alice.signIn("alice@acme.test", "acme")
	dave.signIn("dave@acme.test", "acme")
	aliceKey, r := alice.addPasskey(base, "Laptop", false)
	wantPasskeyAdded(t, r)
	daveKey, r := dave.addPasskey(base, "Phone", true)
	wantPasskeyAdded(t, r)

	refused := func(t *testing.T, b *browser, r response) {
		t.Helper()
		wantStatus(t, r, http.StatusUnauthorized)
		wantBody(t, r, "This passkey did not sign you in")
		wantSignedIn(t, b, "acme", false)
	}
	t.Run("another challenge", func(t *testing.T) {
		b := a.browser()
		_, first := b.begin(base+"/login", base+"/login/passkey/begin")
		b.begin(base+"/login", base+"/login/passkey/begin") // a second begin replaces the first
		refused(t, b, b.submit(base+"/login", base+"/login/passkey", url.Values{"credential": {aliceKey.assert(t, first, base, 1)}}))
	})
	t.Run("answered twice", func(t *testing.T) {
		b := a.browser()
		_, o := b.begin(base+"/login", base+"/login/passkey/begin")
		answer := aliceKey.assert(t, o, base, 1)
		wantStatus(t, b.submit(base+"/login", base+"/login/passkey", url.Values{"credential": {answer}}), http.StatusSeeOther)
		c := a.browser()
		c.begin(base+"/login", base+"/login/passkey/begin")
		refused(t, c, c.submit(base+"/login", base+"/login/passkey", url.Values{"credential": {answer}}))
	})
	t.Run("another origin", func(t *testing.T) {
		b := a.browser()
		_, o := b.begin(base+"/login", base+"/login/passkey/begin")
		refused(t, b, b.submit(base+"/login", base+"/login/passkey", url.Values{"credential": {aliceKey.assert(t, o, tenantURL("acme", ""), 1)}}))
	})
	t.Run("another person's handle", func(t *testing.T) {
		b := a.browser()
		_, o := b.begin(base+"/login", base+"/login/passkey/begin")
		forged := *daveKey
		forged.handle = aliceKey.handle
		refused(t, b, b.submit(base+"/login", base+"/login/passkey", url.Values{"credential": {forged.assert(t, o, base, 0)}}))
	})
	t.Run("counter went backwards", func(t *testing.T) {
		b := a.browser()
		wantStatus(t, b.passkeySignIn(aliceKey, nil, 5), http.StatusSeeOther)
		clone := *aliceKey
		clone.count -= 3
		c := a.browser()
		refused(t, c, c.passkeySignIn(&clone, nil, 1))
		if !strings.Contains(a.logs.String(), "may be cloned") {
			t.Fatal("a cloned passkey was not logged")
		}
		// A synced passkey keeps no counter: 0 every time is fine.
		d := a.browser()
		wantStatus(t, d.passkeySignIn(daveKey, nil, 0), http.StatusSeeOther)
		wantStatus(t, a.browser().passkeySignIn(daveKey, nil, 0), http.StatusSeeOther)
	})
	t.Run("no script", func(t *testing.T) {
		b := a.browser()
		r := b.submit(base+"/login", base+"/login/passkey", url.Values{"tenant": {"acme"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "This browser cannot use passkeys")
	})
	t.Run("on a company's address", func(t *testing.T) {
		page := tenantURL("acme", "/account/passkeys")
		wantStatus(t, dave.submit(page, tenantURL("acme", "/login/passkey/begin"), nil), http.StatusNotFound)
		wantStatus(t, dave.submit(page, tenantURL("acme", "/login/passkey"), url.Values{"credential": {"{}"}}), http.StatusNotFound)
	})
	t.Run("removed", func(t *testing.T) {
		list := base + "/account/passkeys"
		wantStatus(t, alice.submit(list, base+"/account/passkeys/"+a.passkeyID("alice@acme.test", "Laptop")+"/remove", nil), http.StatusSeeOther)
		b := a.browser()
		refused(t, b, b.passkeySignIn(aliceKey, nil, 1))
	})
}

// TestConfirmItsYouWithAPasskey: "Confirm it's you" takes one of the
// person's own passkeys instead of the password; another person's is
// refused.
func TestConfirmItsYouWithAPasskey(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave, alice := a.browser(), a.browser()
	dave.signIn("dave@acme.test", "acme")
	alice.signIn("alice@acme.test", "acme")
	acme := tenantURL("acme", "")
	daveKey, r := dave.addPasskey(acme, "Phone", false)
	wantPasskeyAdded(t, r)
	aliceKey, r := alice.addPasskey(acme, "Laptop", false)
	wantPasskeyAdded(t, r)
	a.clock.advance(11 * time.Minute)

	page := acme + "/account/confirm?next=%2Faccount%2Fpasskeys%2Fnew"
	confirmWith := func(k *softKey) response {
		r, o := dave.begin(page, acme+"/account/confirm/passkey/begin")
		wantStatus(t, r, http.StatusOK)
		if len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64.EncodeToString(daveKey.id) {
			t.Fatalf("allowed %+v, want dave's passkey alone", o.PublicKey.AllowCredentials)
		}
		return dave.submit(page, acme+"/account/confirm/passkey", url.Values{"credential": {k.assert(t, o, acme, 1)}, "next": {"/account/passkeys/new"}})
	}
	wantBody(t, confirmWith(aliceKey), "That passkey did not confirm it’s you")
	canAdd := func() int {
		r, _ := dave.begin(acme+"/account/passkeys", acme+"/account/passkeys/new/begin")
		return r.status
	}
	if canAdd() != http.StatusForbidden {
		t.Fatal("another person's passkey confirmed it was dave")
	}
	ok := confirmWith(daveKey)
	wantStatus(t, ok, http.StatusSeeOther)
	if ok.location != "/account/passkeys/new" {
		t.Fatalf("confirmed, then sent to %q", ok.location)
	}
	if canAdd() != http.StatusOK {
		t.Fatal("confirmed with his passkey, dave still cannot add one")
	}

	// Someone with no passkey is told so by the options.
	carol := a.browser()
	carol.signIn("carol@initech.test", "")
	r, o := carol.begin(base+"/account/confirm", base+"/account/confirm/passkey/begin")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if o.Error == "" {
		t.Fatal("no passkey, yet no word of it")
	}
}

// TestPasskeySignInRespectsRequiredSSO: a company that requires single
// sign-on of the person's domain refuses their passkey as it refuses
// their password.
func TestPasskeySignInRespectsRequiredSSO(t *testing.T) {
	t.Parallel()
	a, _ := newSSOApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	k, r := dave.addPasskey(base, "Phone", false)
	wantPasskeyAdded(t, r)
	acme := a.tenant("acme")
	err := a.store.Within(context.Background(), models.Scope{TenantID: acme.ID}, func(ctx context.Context, tx *models.Store) error {
		conn, err := tx.SSOConnectionOf(ctx, acme.ID)
		if err != nil {
			return err
		}
		_, err = tx.SaveSSOConnection(ctx, acme.ID, models.SSOConnectionInput{Issuer: conn.Issuer, ClientID: conn.ClientID,
			Domains: "acme.test", JoinRole: conn.JoinRole, Required: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	refusedHere := b.passkeySignIn(k, url.Values{"tenant": {"acme"}}, 1)
	wantStatus(t, refusedHere, http.StatusOK)
	wantBody(t, refusedHere, "to sign in with single sign-on, not a passkey")
	wantSignedIn(t, b, "acme", false)
}

// TestPasskeyAsTheSecondStep: dave, with a passkey and no authenticator
// app, signs in with his password and is asked for his passkey (or a
// recovery code), not a code; another person's passkey, or none, does not
// get him in; his own does, and lands in the company the form named.
func TestPasskeyAsTheSecondStep(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave, alice := a.browser(), a.browser()
	dave.signIn("dave@acme.test", "acme")
	alice.signIn("alice@acme.test", "acme")
	acme := tenantURL("acme", "")
	daveKey, r := dave.addPasskey(acme, "Phone", false)
	wantPasskeyAdded(t, r)
	aliceKey, r := alice.addPasskey(acme, "Laptop", false)
	wantPasskeyAdded(t, r)
	dave.signOut(acme)

	r = dave.signInPassword("dave@acme.test")
	if r.location != "/login/two-factor" {
		t.Fatalf("password right, then sent to %q, want the second step", r.location)
	}
	step := dave.follow(r)
	wantBody(t, step, "Use one of your passkeys", `data-begin="/login/two-factor/passkey/begin"`, "Use a recovery code instead")
	if strings.Contains(step.body, `name="code"`) {
		t.Fatal("asked for an authenticator code dave does not have")
	}
	page := base + "/login/two-factor"
	answer := func(k *softKey) response {
		r, o := dave.begin(page, base+"/login/two-factor/passkey/begin")
		wantStatus(t, r, http.StatusOK)
		if len(o.PublicKey.AllowCredentials) != 1 || o.PublicKey.AllowCredentials[0].ID != b64.EncodeToString(daveKey.id) {
			t.Fatalf("allowed %+v, want dave's passkey alone", o.PublicKey.AllowCredentials)
		}
		return dave.submit(page, base+"/login/two-factor/passkey", url.Values{"credential": {k.assert(t, o, base, 1)}})
	}
	wantBody(t, answer(aliceKey), "That passkey did not sign you in")
	wantBody(t, dave.submit(page, base+"/login/two-factor/passkey", url.Values{"credential": {""}}), "This browser cannot use passkeys")
	if home := dave.follow(dave.get(acme + "/")); home.status == http.StatusOK && strings.Contains(home.body, "dave@acme.test") {
		t.Fatal("signed in without a second factor")
	}

	r = answer(daveKey)
	wantStatus(t, r, http.StatusSeeOther)
	home := dave.follow(r)
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Corp")
	if got := a.lastAuditOf("acme", "auth.signin"); !strings.Contains(got, "password and passkey") {
		t.Fatalf("the sign-in was audited as %q, want by password and passkey", got)
	}
}

// TestFirstPasskeyGivesRecoveryCodes: a person whose first second factor
// is a passkey is given recovery codes with it, so that losing the
// passkey does not lock them out: after their password, a recovery code
// signs them in. A second passkey makes no new codes.
func TestFirstPasskeyGivesRecoveryCodes(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	_, r := dave.addPasskey(acme, "Phone", false)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Two-factor sign-in is on", "asks for your passkey after your password", "Save these recovery codes now")
	codes := recoveryCodes.FindAllStringSubmatch(r.body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	_, r = dave.addPasskey(acme, "Laptop", false)
	wantStatus(t, r, http.StatusSeeOther)
	dave.signOut(acme)

	step := dave.follow(dave.signInPassword("dave@acme.test"))
	wantBody(t, step, "Use one of your passkeys", "Use a recovery code instead")
	r = dave.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {codes[0][1]}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Signed in with a recovery code", "<strong>9 recovery codes</strong> left")
}
