package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// dnsCheckTimeout bounds one domain's DNS check. The request, and on
// Postgres its transaction, waits for it, so it is kept short: a record
// not seen in time is looked for again when the person asks again.
const dnsCheckTimeout = 5 * time.Second

// verifySSODomain looks for the TXT record that proves one of the
// company's claimed domains and, when it holds the domain's value, marks
// the domain proven by DNS (audited). Whatever it finds is said in a flash
// on the Single sign-on settings page.
func (h *Handlers) verifySSODomain(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := h.store.SSODomainOf(ctx, rs.tenant.ID, id)
	if err != nil {
		return err
	}
	if d.Proof == models.ProofDNS {
		h.flash(c, "info", d.Domain+" is already verified.")
		return c.Redirect(http.StatusSeeOther, views.SSOSettingsPath)
	}
	found, err := h.dns.Check(ctx, d.TXTName(), d.TXTValue())
	switch {
	case err != nil:
		h.logFor(c).Warn("sso domain check", "tenant", rs.tenant.ID, "domain", d.Domain, "err", err)
		h.flash(c, "error", "Could not look up the TXT records at "+d.TXTName()+" just now: the DNS server did not answer, or answered with an error. Nothing was changed; try again in a moment.")
	case found.Match:
		if err := h.store.MarkDomainProvenByDNS(ctx, rs.tenant.ID, d.ID); err != nil {
			return err
		}
		h.flash(c, "success", d.Domain+" is verified: your identity provider now signs in people with "+d.Domain+" emails.")
	case len(found.Records) == 0:
		h.flash(c, "error", "No TXT record at "+d.TXTName()+" yet; DNS changes can take a while to appear.")
	default:
		h.flash(c, "error", "Found TXT records at "+d.TXTName()+", but none is "+d.TXTValue()+". Found: "+quoteRecords(found.Records)+".")
	}
	return c.Redirect(http.StatusSeeOther, views.SSOSettingsPath)
}

// quoteRecords writes what a name holds for a message: a few records, each
// cut short, since a domain's unrelated records can be long and many.
func quoteRecords(records []string) string {
	const most, width = 3, 80
	quoted := make([]string, 0, most+1)
	for i, r := range records {
		if i == most {
			quoted = append(quoted, fmt.Sprintf("and %d more", len(records)-most))
			break
		}
		if len(r) > width {
			r = r[:width] + "…"
		}
		quoted = append(quoted, strconv.Quote(r))
	}
	return strings.Join(quoted, ", ")
}

// ssoDomains is platform staff's list of the domains companies claim and
// have not proven by DNS, oldest first, each to approve or refuse.
func (h *Handlers) ssoDomains(c echo.Context) error {
	return h.renderSSODomains(c, http.StatusOK, models.ParsePage(c.QueryParam("page"), models.PendingSSODomainPageSize), pages.SSORefusal{})
}

func (h *Handlers) renderSSODomains(c echo.Context, status int, page models.PageRequest, refusal pages.SSORefusal) error {
	rs := stateOf(c)
	list, err := h.store.PendingSSODomains(c.Request().Context(), rs.tenant.ID, page)
	if err != nil {
		return err
	}
	data := pages.SSODomainsData{Page: list, Refusal: refusal}
	return h.render(c, status, pages.SSODomains(h.shell(c, "SSO domains", "sso-domains"), data))
}

// approveSSODomain is staff approving a domain the company could not
// prove by DNS: from now on its connection signs in people of the domain.
func (h *Handlers) approveSSODomain(c echo.Context) error {
	return h.decideSSODomain(c, true)
}

// refuseSSODomain is staff refusing a domain, with a note the company
// reads on its Single sign-on settings; without one the list comes back
// with the message beside that domain's field.
func (h *Handlers) refuseSSODomain(c echo.Context) error {
	return h.decideSSODomain(c, false)
}

func (h *Handlers) decideSSODomain(c echo.Context, approve bool) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	page := models.ParsePage(c.FormValue("page"), models.PendingSSODomainPageSize)
	back := views.SSODomainsPath
	if page.Number > 1 {
		back += "?" + url.Values{"page": {strconv.Itoa(page.Number)}}.Encode()
	}
	note := c.FormValue("note")
	d, err := h.store.DecideSSODomainInTree(c.Request().Context(), rs.tenant.ID, id, approve, note)
	var problems models.FieldErrors
	switch {
	case errors.As(err, &problems):
		return h.renderSSODomains(c, http.StatusUnprocessableEntity, page, pages.SSORefusal{DomainID: id, Note: note, Error: problems["note"]})
	case errors.Is(err, models.ErrChangedMeanwhile):
		h.flash(c, "info", d.Domain+" is no longer waiting: it was verified by DNS or decided by someone else meanwhile. Nothing was changed.")
		return c.Redirect(http.StatusSeeOther, back)
	case err != nil:
		return err
	}
	h.logFor(c).Info("sso domain decided", "domain", d.Domain, "tenant", d.TenantID, "proof", d.Proof, "by", rs.user.ID)
	if approve {
		h.flash(c, "success", d.Domain+" is approved: the company's identity provider now signs in people with "+d.Domain+" emails.")
	} else {
		h.flash(c, "success", d.Domain+" is refused. The company sees your note in its Single sign-on settings.")
	}
	return c.Redirect(http.StatusSeeOther, back)
}
