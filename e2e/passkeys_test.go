package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// addVirtualAuthenticator gives the tab Chromium's virtual authenticator:
// a platform authenticator (like a laptop's fingerprint reader) that keeps
// discoverable passkeys and verifies its person at once.
func addVirtualAuthenticator(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Call(tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn: %v", err)
	}
	_, err := chromedp.Call(tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
	}})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
}

// waitForPage waits until the tab shows path at host: a passkey's form is
// submitted by the script once the authenticator answers, not by the click.
func waitForPage(t *testing.T, tab context.Context, host, path string) {
	t.Helper()
	js := "location.host === " + strconv.Quote(host) + " && location.pathname === " + strconv.Quote(path) + " && document.readyState === 'complete'"
	deadline := time.Now().Add(15 * time.Second)
	for {
		// A page on its way out has no context to evaluate in: try again.
		there, err := chromedp.Run(tab, chromedp.Evaluate[bool](js))
		if err == nil && there {
			return
		}
		if time.Now().After(deadline) {
			text := pageText(t, tab)
			t.Fatalf("waiting for %s%s (at %s): %v\n%s", host, path, location(t, tab), err, text[:min(len(text), 1500)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPasskeyAddedThenSignsIn: alice adds a passkey on Account → Passkeys,
// signs out, and on the base domain's sign-in page signs in with it alone
// — no email, no password — landing on Acme's Home. (Browsers let
// acme.localhost use no passkey of localhost, a registry of its own to
// them, so "Add a passkey" there leads to the base domain; a passkey made
// at a company's address of a real domain is the handler tests'.)
func TestPasskeyAddedThenSignsIn(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, size := range []struct {
		name string
		view viewport
	}{{"desktop", desktop}, {"phone", phone}} {
		t.Run(size.name, func(t *testing.T) {
			tab := newTab(t, browser, size.view)
			addVirtualAuthenticator(t, tab)
			if size.name == "phone" {
				// No autofill here, so the button is what signs in.
				_, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
					Source: "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = function () { return Promise.resolve(false); };",
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			email := "alice@acme.test"
			if size.name == "phone" {
				email = "dave@acme.test"
			}
			signIn(t, tab, a, "acme", email)

			open(t, tab, a.tenantURL("acme", "/account/passkeys"))
			wantText(t, tab, "Passkeys", "Add a passkey")
			click(t, tab, `a[href="`+a.baseURL("/account/passkeys/new")+`"]`)
			waitForPage(t, tab, a.baseHost(), "/account/passkeys/new")
			wantNoElement(t, tab, "[data-passkey-unsupported]:not([hidden])")
			screenshot(t, tab, "passkeys/add-"+size.name+".png")
			if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS("#f-name"), "Work laptop")); err != nil {
				t.Fatal(err)
			}
			click(t, tab, `form[data-passkey="register"] button[type="submit"]`)
			// A first second factor comes with recovery codes, shown once,
			// in the answer to the form (the same address).
			if err := chromedp.Do(tab, chromedp.WaitVisible(".key-shown .recovery-codes")); err != nil {
				t.Fatalf("no recovery codes after the first passkey: %v", err)
			}
			wantText(t, tab, "Two-factor sign-in is on", "asks for your passkey after your password", "Save these recovery codes now")
			screenshot(t, tab, "passkeys/recovery-codes-"+size.name+".png")
			click(t, tab, `.key-shown .form-actions a.button-primary`)
			waitForPage(t, tab, a.baseHost(), "/account/two-factor")
			open(t, tab, a.baseURL("/account/passkeys"))
			wantText(t, tab, "Work laptop", "Never")
			wantNoSideways(t, tab)
			screenshot(t, tab, "passkeys/list-"+size.name+".png")

			signOut(t, tab, a)
			if size.name == "desktop" {
				// The virtual authenticator answers the sign-in page's
				// autofill request at once, as a person picking their
				// passkey among the email field's suggestions would.
				waitForPage(t, tab, a.tenantHost("acme"), "/")
			} else {
				click(t, tab, `form[data-passkey="signin"] button[type="submit"]`)
				waitForPage(t, tab, a.tenantHost("acme"), "/")
			}
			wantText(t, tab, "Acme Corp")
		})
	}
}
