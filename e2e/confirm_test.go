package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// rowButton is the XPath of the button labelled label in the table row that
// mentions text (a person's email, a device's identifier).
func rowButton(text, label string) string {
	return `//tr[contains(., "` + text + `")]//button[normalize-space() = "` + label + `"]`
}

// clickXPath clicks the first element an XPath finds.
func clickXPath(t *testing.T, tab context.Context, xpath string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.Search(xpath)), chromedp.Click(chromedp.Search(xpath))); err != nil {
		t.Fatalf("click %s: %v", xpath, err)
	}
}

// dialogOpen tells whether the shared confirmation dialog is open.
func dialogOpen(t *testing.T, tab context.Context) bool {
	t.Helper()
	open, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("confirm-dialog").open`))
	if err != nil {
		t.Fatalf("look at the dialog: %v", err)
	}
	return open
}

// cancelThenConfirm is what the person does with a confirmed action: opens
// the confirmation of one button and cancels it, then opens the confirmation
// of another (or the same) and confirms. The cancelled one must send nothing;
// the confirmed one must load the page its action leads to. question is part
// of what the dialog asks the second time.
func cancelThenConfirm(t *testing.T, tab context.Context, cancelled, confirmed, question string) {
	t.Helper()
	before := location(t, tab).String()
	clickXPath(t, tab, cancelled)
	waitVisible(t, tab, "#confirm-dialog")
	click(t, tab, `#confirm-dialog button[value="cancel"]`)
	if err := chromedp.Do(tab, chromedp.WaitNotVisible(chromedp.CSS("#confirm-dialog"))); err != nil {
		t.Fatalf("the dialog stays open after Cancel: %v", err)
	}
	if after := location(t, tab).String(); after != before {
		t.Fatalf("Cancel went from %s to %s", before, after)
	}

	clickXPath(t, tab, confirmed)
	waitVisible(t, tab, "#confirm-dialog")
	asked, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#confirm-message")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(asked, question) {
		t.Fatalf("the dialog asks %q, want it to ask %q", asked, question)
	}
	// A dead Confirm button loads nothing: wait a bounded time, not the
	// whole test's (long enough for a page under a busy machine's load).
	ctx, cancel := context.WithTimeout(tab, 45*time.Second)
	defer cancel()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__beforeConfirm = true`)); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#confirm-ok")))
	if err != nil {
		state, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify({same: !!window.__beforeConfirm, rv: document.getElementById("confirm-dialog").returnValue, submitting: [...document.querySelectorAll("form[data-submitting]")].map(f => f.action), confirmed: [...document.querySelectorAll("form[data-confirmed]")].map(f => f.action), url: location.href, flash: (document.querySelector(".flash") || {}).textContent})`))
		t.Fatalf("Confirm after an earlier Cancel sent nothing (dialog open: %v, page %s): %v", dialogOpen(t, tab), state, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("confirming %q ended with status %d", question, resp.Status)
	}
}

// inviteFor puts a pending invitation to email in a tenant and returns its
// link's token, as the email would carry it.
func inviteFor(t *testing.T, a *app, tenant *models.Tenant, email string) string {
	t.Helper()
	var token string
	mail := func(inv *models.Invitation, _ *models.Tenant, tok string) models.NewEmail {
		token = tok
		return models.NewEmail{TenantID: inv.TenantID, To: inv.Email, Subject: "Invitation", Body: "-"}
	}
	outcome, err := a.store.Invite(context.Background(), models.InviteRequest{TenantID: tenant.ID, InviterRole: models.RoleSuperAdmin,
		Email: email, FirstName: "Nina", LastName: "Novak", Role: models.RoleEditor}, mail)
	if err != nil || outcome != models.InvitationSent {
		t.Fatalf("invite %s: outcome %d, %v", email, outcome, err)
	}
	return token
}

func tenantNamed(t *testing.T, a *app, subdomain string) *models.Tenant {
	t.Helper()
	tenant, err := a.store.TenantBySubdomain(context.Background(), subdomain)
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

// TestConfirmAfterCancel: every action asked about in the confirmation
// dialog still works after the person cancelled one first, and the cancelled
// one changes nothing. Team (Revoke, Remove, Make owner), the Devices page's
// Deprovision, a sub-tenant's Devices and Users tabs (Deprovision, Revoke)
// and its Deactivate and Activate, and declining an invitation. Each part
// has a browser of its own, so each has the whole time budget.
func TestConfirmAfterCancel(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	acme, eu := tenantNamed(t, a, "acme"), tenantNamed(t, a, "acme-eu")
	inviteFor(t, a, acme, "nina@example.com")
	inviteFor(t, a, eu, "ken@example.com")
	declineToken := inviteFor(t, a, eu, "lee@example.com")

	t.Run("team", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		signIn(t, tab, a, "acme", "alice@acme.test")
		open(t, tab, a.tenantURL("acme", "/settings/team"))

		cancelThenConfirm(t, tab, rowButton("nina@example.com", "Revoke"), rowButton("nina@example.com", "Revoke"),
			"Revoke the invitation to nina@example.com?")
		wantText(t, tab, "Invitation revoked. Its link no longer works.")
		if strings.Contains(pageText(t, tab), "nina@example.com") {
			t.Error("the revoked invitation is still listed")
		}

		cancelThenConfirm(t, tab, rowButton("dave@acme.test", "Remove"), rowButton("bob@globex.test", "Remove"),
			"Remove Bob Brown from Acme Corp?")
		wantText(t, tab, "Member removed.", "dave@acme.test")
		if strings.Contains(pageText(t, tab), "bob@globex.test") {
			t.Error("Bob is still listed after his removal")
		}

		cancelThenConfirm(t, tab, rowButton("dave@acme.test", "Make owner"), rowButton("dave@acme.test", "Make owner"),
			"Make Dave Davis the owner of Acme Corp?")
		wantText(t, tab, "Dave Davis is now the owner of Acme Corp.")
		if row := rowOf(t, tab, "dave@acme.test"); !strings.Contains(row, "Owner") {
			t.Errorf("Dave's row after the transfer: %q", row)
		}
		wantNoElement(t, tab, `form[action$="/owner"]`)
		screenshot(t, tab, "confirm-team.png")
	})

	t.Run("devices", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		signIn(t, tab, a, "acme-eu", "eve@acme.test")
		open(t, tab, a.tenantURL("acme-eu", "/devices"))
		cancelThenConfirm(t, tab, rowButton("EU-TL100-0001", "Deprovision"), rowButton("EU-TL100-0002", "Deprovision"),
			"Deprovision EU-TL100-0002? This is final.")
		wantText(t, tab, "EU-TL100-0002 is deprovisioned.")
		wantDeviceStatus(t, tab, "EU-TL100-0002", "Deprovisioned")
		wantDeviceStatus(t, tab, "EU-TL100-0001", "Active")
	})

	t.Run("sub-tenant", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		signIn(t, tab, a, "acme", "alice@acme.test")
		details := "/sub-tenants/" + strconv.FormatInt(eu.ID, 10)

		open(t, tab, a.tenantURL("acme", details+"/devices"))
		cancelThenConfirm(t, tab, rowButton("EU-GPS-0001", "Deprovision"), rowButton("EU-DS1-0001", "Deprovision"),
			"Deprovision EU-DS1-0001? This is final.")
		wantText(t, tab, "EU-DS1-0001 is deprovisioned.")
		wantDeviceStatus(t, tab, "EU-DS1-0001", "Deprovisioned")
		wantDeviceStatus(t, tab, "EU-GPS-0001", "Active")

		open(t, tab, a.tenantURL("acme", details+"/users"))
		cancelThenConfirm(t, tab, rowButton("lee@example.com", "Revoke"), rowButton("ken@example.com", "Revoke"),
			"Revoke the invitation to ken@example.com?")
		wantLocation(t, tab, a.tenantHost("acme"), details+"/users")
		wantText(t, tab, "Invitation revoked. Its link no longer works.", "lee@example.com")
		if strings.Contains(pageText(t, tab), "ken@example.com") {
			t.Error("the revoked invitation is still listed")
		}

		deactivate := `//div[@class="page-actions"]//button[normalize-space() = "Deactivate"]`
		cancelThenConfirm(t, tab, deactivate, deactivate, "Deactivate Acme Europe?")
		wantText(t, tab, "Acme Europe is now inactive", "Inactive")
		activate := `//div[@class="page-actions"]//button[normalize-space() = "Activate"]`
		cancelThenConfirm(t, tab, activate, activate, "Activate Acme Europe?")
		wantText(t, tab, "Acme Europe is active again")
		if got, err := a.store.TenantBySubdomain(context.Background(), "acme-eu"); err != nil || !got.Active() {
			t.Errorf("Acme Europe after Activate: %+v, %v", got, err)
		}
	})

	t.Run("decline-invitation", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		wantStatus(t, open(t, tab, "http://"+a.baseHost()+"/invitations/"+declineToken), http.StatusOK)
		decline := `//form[contains(@class, "decline-form")]//button`
		cancelThenConfirm(t, tab, decline, decline, "Decline the invitation to Acme Europe?")
		wantText(t, tab, "Invitation declined", "You will not join Acme Europe.")
	})
}

// rowOf is what a person reads in the table row that mentions text.
func rowOf(t *testing.T, tab context.Context, text string) string {
	t.Helper()
	row, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
		const row = [...document.querySelectorAll("tbody tr")].find(r => r.textContent.includes(`+strconv.Quote(text)+`));
		return row ? row.innerText : "";
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// wantDeviceStatus checks the status a device's row shows.
func wantDeviceStatus(t *testing.T, tab context.Context, identifier, status string) {
	t.Helper()
	if got := cellText(t, tab, identifier, 2); !strings.HasPrefix(got, status) {
		t.Errorf("%s's status is %q, want %s", identifier, got, status)
	}
}
