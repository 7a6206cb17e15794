package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rowWithText is the text of the table row that mentions text, or "".
func rowWithText(t *testing.T, tab context.Context, text string) string {
	t.Helper()
	row, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
		const r = [...document.querySelectorAll("tbody tr")].find(r => r.innerText.includes(`+"`"+text+"`"+`));
		return r ? r.innerText : "";
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// TestTeamSaysWhatIsPossible: on Settings → Team, the Add member form marks
// its required fields and refuses a missing last name beside the field; an
// invitation whose link expired shows Expired with Invite again, which
// sends a new link; Make owner is offered to dave but not to bob, who owns
// Globex already.
func TestTeamSaysWhatIsPossible(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/team/new")), http.StatusOK)
	marked, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("label .required-mark")].map(m => m.closest("label").htmlFor)`))
	if err != nil || strings.Join(marked, ",") != "f-first_name,f-last_name,f-email,f-role" {
		t.Errorf("fields marked required: %v (%v)", marked, err)
	}
	typeInto(t, tab, [][2]string{{"#f-first_name", "Lena"}, {"#f-email", "lena@example.com"}})
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("no last name answered %d, want 422", status)
	}
	wantText(t, tab, "Enter a last name.")
	screenshot(t, tab, "add-member-required.png")
	typeInto(t, tab, [][2]string{{"#f-last_name", "Lind"}})
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("add member: %d", status)
	}
	wantText(t, tab, "Invitation sent to lena@example.com")
	if row := rowWithText(t, tab, "lena@example.com"); !strings.Contains(row, "Invited") {
		t.Fatalf("Lena's row: %q", row)
	}

	// A week later her link has expired.
	if err := a.db.Exec("UPDATE invitations SET expires_at = ? WHERE email = ?", time.Now().UTC().Add(-time.Hour), "lena@example.com").Error; err != nil {
		t.Fatal(err)
	}
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/team")), http.StatusOK)
	row := rowWithText(t, tab, "lena@example.com")
	if !strings.Contains(row, "Expired") || !strings.Contains(row, "Invite again") || strings.Contains(row, "Invited") {
		t.Fatalf("the expired invitation's row: %q", row)
	}
	// Make owner: dave may become owner; bob owns Globex and may not.
	for who, offered := range map[string]bool{"dave@acme.test": true, "bob@globex.test": false} {
		if got := strings.Contains(rowWithText(t, tab, who), "Make owner"); got != offered {
			t.Errorf("Make owner offered for %s: %v, want %v", who, got, offered)
		}
	}
	wantNoSideways(t, tab)
	screenshot(t, tab, "team-expired.png")
	if status := clickAndWait(t, tab, `tbody tr form[action$="/resend"] button`); status != http.StatusOK {
		t.Fatalf("invite again: %d", status)
	}
	wantText(t, tab, "Invitation sent again with a new link, valid for 7 days.")
	if row := rowWithText(t, tab, "lena@example.com"); !strings.Contains(row, "Invited") || strings.Contains(row, "Expired") {
		t.Fatalf("after inviting again: %q", row)
	}
	msgs, err := a.store.OutboxFor(context.Background(), "lena@example.com")
	if err != nil || len(msgs) != 2 {
		t.Fatalf("emails to lena: %d (%v)", len(msgs), err)
	}
}

// TestSubTenantStatusStaysOnItsTab: activating Acme Lab from its Devices
// tab, through the confirmation, returns to the Devices tab; deactivating
// it from the Users tab returns to the Users tab.
func TestSubTenantStatusStaysOnItsTab(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	lab := "/sub-tenants/" + strconv.FormatInt(mustTenant(t, a, "acme-lab").ID, 10)
	for _, step := range []struct{ tab, button, flash string }{
		{"devices", "Activate", "Acme Lab is active again"},
		{"users", "Deactivate", "Acme Lab is now inactive"},
	} {
		wantStatus(t, open(t, tab, a.tenantURL("acme", lab+"/"+step.tab)), http.StatusOK)
		click(t, tab, `.page-actions form[action$="/status"] button`)
		waitVisible(t, tab, "#confirm-dialog[open]")
		if status := clickAndWait(t, tab, "#confirm-ok"); status != http.StatusOK {
			t.Fatalf("%s from the %s tab: %d", step.button, step.tab, status)
		}
		wantLocation(t, tab, a.tenantHost("acme"), lab+"/"+step.tab)
		wantText(t, tab, step.flash)
	}
	screenshot(t, tab, "subtenant-status-users-tab.png")
}
