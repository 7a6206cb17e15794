package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/internal/apikey"
	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// apiKeys is Developers → API keys: the company's keys by environment and
// where its production access stands. Everyone in the company sees it;
// only those who may manage settings see the ways to change it.
func (h *Handlers) apiKeys(c echo.Context) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	keys, err := h.store.ListAPIKeys(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	access, err := h.store.LatestProductionAccessRequest(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	// A company asks no more once approved, so its latest request says
	// whether it has production access.
	approved := access != nil && access.Status == models.AccessApproved
	data := pages.APIKeysData{Keys: keys, Access: access, ProductionApproved: approved, Now: h.now()}
	return h.render(c, http.StatusOK, pages.APIKeys(h.shell(c, "API keys", "developers"), data))
}

// newAPIKeyForm is the form creating a key, sandbox by default.
func (h *Handlers) newAPIKeyForm(c echo.Context) error {
	f := pages.APIKeyForm{Environment: string(models.APISandbox), Scopes: []models.APIScope{models.ScopeOrdersRead}, FormToken: newFormToken()}
	if c.QueryParam("environment") == string(models.APIProduction) {
		f.Environment = string(models.APIProduction)
	}
	return h.renderAPIKeyForm(c, http.StatusOK, f)
}

func (h *Handlers) renderAPIKeyForm(c echo.Context, status int, f pages.APIKeyForm) error {
	approved, err := h.store.HasProductionAccess(c.Request().Context(), stateOf(c).tenant.ID)
	if err != nil {
		return err
	}
	f.ProductionApproved = approved
	return h.render(c, status, pages.NewAPIKey(h.shell(c, "New API key", "developers"), f))
}

// createAPIKey makes a key and shows it once, on the page this POST
// answers with: there is no address to reload it from, and the page is
// not cached (render sends no-store). Canopy keeps only its keyed hash.
func (h *Handlers) createAPIKey(c echo.Context) error {
	rs := stateOf(c)
	if err := c.Request().ParseForm(); err != nil {
		return err
	}
	f := pages.APIKeyForm{Name: c.FormValue("name"), Environment: c.FormValue("environment"), FormToken: c.FormValue("form_token")}
	if h.formUsed(c, f.FormToken) {
		// The browser sent the form again (a reload of the page showing
		// the key): one form makes one key, shown once.
		h.flash(c, "info", "That key was already created, and its key shown once. It is in the list below; create another if you need one.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	}
	for _, s := range c.Request().Form["scopes"] {
		f.Scopes = append(f.Scopes, models.APIScope(s))
	}
	env := models.APIEnvironment(f.Environment)
	key, err := apikey.New(env == models.APIProduction)
	if err != nil {
		return fmt.Errorf("make api key: %w", err)
	}
	stored, err := h.store.CreateAPIKey(c.Request().Context(), rs.tenant.ID,
		models.NewAPIKey{Name: f.Name, Environment: env, Scopes: f.Scopes}, h.hashed(key))
	if fieldErrors(err, &f.Errors) {
		return h.renderAPIKeyForm(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	h.useForm(c, f.FormToken)
	h.logFor(c).Info("api key created", "tenant", rs.tenant.ID, "key", stored.ID, "environment", stored.Environment, "by", rs.user.ID)
	return h.render(c, http.StatusOK, pages.APIKeyShown(h.shell(c, "API key created", "developers"),
		pages.APIKeyShownData{Key: *stored, Secret: key.Secret}))
}

// hashed is what the store keeps of a key: its keyed hash, prefix and last 4.
func (h *Handlers) hashed(k apikey.Key) models.HashedAPIKey {
	return models.HashedAPIKey{Hash: h.APIKeys.Hash(k), Prefix: k.Prefix(), Last4: k.Last4()}
}

// revokeAPIKey stops a key at once.
func (h *Handlers) revokeAPIKey(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	key, err := h.store.RevokeAPIKey(c.Request().Context(), rs.tenant.ID, id)
	if errors.Is(err, models.ErrAPIKeyRevoked) {
		h.flash(c, "info", "That key had already stopped working. Nothing was changed.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("api key revoked", "tenant", rs.tenant.ID, "key", key.ID, "by", rs.user.ID)
	h.flash(c, "success", "Revoked "+key.Name+" ("+key.Masked()+"). Calls with it are refused from now on.")
	return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
}

// rollGrace reads the roll form's choice of when the old key stops, sent
// in hours; only models.RollGraces are choices.
func rollGrace(raw string) (time.Duration, bool) {
	hours, err := strconv.Atoi(raw)
	if err != nil {
		return 0, false
	}
	grace := time.Duration(hours) * time.Hour
	return grace, slices.Contains(models.RollGraces, grace)
}

// rollAPIKeyForm asks when the key being rolled stops working. A key that
// stopped, or was rolled already, has nothing to roll.
func (h *Handlers) rollAPIKeyForm(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	key, err := h.store.APIKeyOf(c.Request().Context(), stateOf(c).tenant.ID, id)
	if err != nil {
		return err
	}
	switch {
	case !key.WorksAt(h.now()):
		h.flash(c, "info", "That key has stopped working, so there is nothing to roll. Create a new key instead.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	case key.RolledToID != nil || key.ExpiresAt != nil:
		h.flash(c, "info", "That key was already rolled and stops working when its grace ends. Roll its replacement instead.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	}
	return h.render(c, http.StatusOK, pages.RollAPIKey(h.shell(c, "Roll API key", "developers"), pages.RollAPIKeyData{Key: *key}))
}

// rollAPIKey issues a new key in place of one, shown once like a new key;
// the old one keeps working for the chosen time.
func (h *Handlers) rollAPIKey(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	current, err := h.store.APIKeyOf(ctx, rs.tenant.ID, id)
	if err != nil {
		return err
	}
	grace, ok := rollGrace(c.FormValue("expires_in"))
	if !ok {
		return h.render(c, http.StatusUnprocessableEntity, pages.RollAPIKey(h.shell(c, "Roll API key", "developers"),
			pages.RollAPIKeyData{Key: *current, Error: "Choose when the old key stops working."}))
	}
	key, err := apikey.New(current.Environment == models.APIProduction)
	if err != nil {
		return fmt.Errorf("make api key: %w", err)
	}
	old, rolled, err := h.store.RollAPIKey(ctx, rs.tenant.ID, id, grace, h.hashed(key))
	var problems models.FieldErrors
	switch {
	case errors.Is(err, models.ErrAPIKeyRevoked):
		h.flash(c, "info", "That key has stopped working, so there is nothing to roll. Create a new key instead.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	case errors.Is(err, models.ErrAPIKeyRolled):
		h.flash(c, "info", "That key was already rolled and stops working when its grace ends. Roll its replacement instead.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	case errors.As(err, &problems):
		for _, msg := range problems {
			h.flash(c, "error", msg)
		}
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	case err != nil:
		return err
	}
	h.logFor(c).Info("api key rolled", "tenant", rs.tenant.ID, "key", old.ID, "new_key", rolled.ID, "grace", grace, "by", rs.user.ID)
	return h.render(c, http.StatusOK, pages.APIKeyShown(h.shell(c, "API key rolled", "developers"),
		pages.APIKeyShownData{Key: *rolled, Secret: key.Secret, Replaced: old}))
}

// productionAccessForm asks platform staff for production keys.
func (h *Handlers) productionAccessForm(c echo.Context) error {
	latest, err := h.store.LatestProductionAccessRequest(c.Request().Context(), stateOf(c).tenant.ID)
	if err != nil {
		return err
	}
	// Nothing to ask while a request waits or once access is approved:
	// the API keys page says where it stands.
	switch {
	case latest != nil && latest.Status == models.AccessPending:
		h.flash(c, "info", "Your request for production access is waiting for Canopy's staff; they answer by email.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	case latest != nil && latest.Status == models.AccessApproved:
		h.flash(c, "info", "Production access is approved: create production keys with New API key.")
		return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
	}
	return h.renderProductionAccessForm(c, http.StatusOK, pages.ProductionAccessForm{})
}

func (h *Handlers) renderProductionAccessForm(c echo.Context, status int, f pages.ProductionAccessForm) error {
	ctx := c.Request().Context()
	latest, err := h.store.LatestProductionAccessRequest(ctx, stateOf(c).tenant.ID)
	if err != nil {
		return err
	}
	f.Latest = latest
	return h.render(c, status, pages.RequestProductionAccess(h.shell(c, "Request production access", "developers"), f))
}

// requestProductionAccess records the request for platform staff, who
// answer by email.
func (h *Handlers) requestProductionAccess(c echo.Context) error {
	rs := stateOf(c)
	f := pages.ProductionAccessForm{IntendedUse: c.FormValue("intended_use"), MonthlyVolume: c.FormValue("monthly_volume")}
	_, err := h.store.RequestProductionAccess(c.Request().Context(), rs.tenant.ID,
		models.NewProductionAccessRequest{IntendedUse: f.IntendedUse, MonthlyVolume: f.MonthlyVolume})
	if fieldErrors(err, &f.Errors) {
		return h.renderProductionAccessForm(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("production access requested", "tenant", rs.tenant.ID, "by", rs.user.ID)
	h.flash(c, "success", "Production access requested. Canopy's staff will answer by email; until then, build with sandbox keys.")
	return c.Redirect(http.StatusSeeOther, views.APIKeysPath)
}

// accessRequests is platform staff's list of requests for production
// access waiting for them, oldest first, and those decided lately.
func (h *Handlers) accessRequests(c echo.Context) error {
	return h.renderAccessRequests(c, http.StatusOK, models.ParsePage(c.QueryParam("page"), models.AccessRequestPageSize), pages.AccessDecline{})
}

func (h *Handlers) renderAccessRequests(c echo.Context, status int, page models.PageRequest, decline pages.AccessDecline) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	pending, err := h.store.PendingAccessRequests(ctx, rs.tenant.ID, page)
	if err != nil {
		return err
	}
	decided, err := h.store.DecidedAccessRequests(ctx, rs.tenant.ID)
	if err != nil {
		return err
	}
	data := pages.AccessRequestsData{Page: pending, Decided: decided, Decline: decline}
	return h.render(c, status, pages.AccessRequests(h.shell(c, "Access requests", "access-requests"), data))
}

// approveAccessRequest gives the company production keys.
func (h *Handlers) approveAccessRequest(c echo.Context) error { return h.decideAccessRequest(c, true) }

// declineAccessRequest refuses it, with a reason the company reads; without
// one the list comes back with the message beside that request's field.
func (h *Handlers) declineAccessRequest(c echo.Context) error { return h.decideAccessRequest(c, false) }

func (h *Handlers) decideAccessRequest(c echo.Context, approve bool) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	page := models.ParsePage(c.FormValue("page"), models.AccessRequestPageSize)
	back := views.AccessRequestsPath
	if page.Number > 1 {
		back += "?page=" + strconv.Itoa(page.Number)
	}
	reason := c.FormValue("reason")
	req, err := h.store.DecideAccessRequestInTree(c.Request().Context(), rs.tenant.ID, id, approve, reason, h.accessDecisionMail())
	var problems models.FieldErrors
	switch {
	case errors.As(err, &problems):
		return h.renderAccessRequests(c, http.StatusUnprocessableEntity, page, pages.AccessDecline{RequestID: id, Reason: reason, Error: problems["reason"]})
	case errors.Is(err, models.ErrChangedMeanwhile):
		h.flash(c, "info", "That request was already decided by someone else. Nothing was changed.")
		return c.Redirect(http.StatusSeeOther, back)
	case err != nil:
		return err
	}
	h.logFor(c).Info("production access decided", "tenant", req.TenantID, "request", req.ID, "status", req.Status, "by", rs.user.ID)
	if approve {
		h.flash(c, "success", "Approved: the company can create production keys now, and its Admins are told by email.")
	} else {
		h.flash(c, "success", "Declined. The company's Admins are told by email, with your reason.")
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// accessDecisionMail writes the email telling a company's Admin what staff
// decided. Its link is built from the configured base URL, never from the
// request's Host header.
func (h *Handlers) accessDecisionMail() models.AccessDecisionMailFor {
	return func(r *models.ProductionAccessRequest, t *models.Tenant, to *models.User) models.NewEmail {
		link := h.cfg.TenantURL(t.Subdomain, views.APIKeysPath)
		company := quotedCompany(t.Name)
		greeting := "Hello,"
		if to.FirstName != "" {
			greeting = "Hello " + to.FirstName + ","
		}
		if r.Status == models.AccessApproved {
			return models.NewEmail{
				Subject: "Production access approved for the company " + company + " on Canopy",
				Body: fmt.Sprintf("%s\n\nCanopy's staff approved production access for the company %s. "+
					"Its Admins can now create production (live) API keys:\n%s\n\n"+
					"Orders made with a production key are real orders.\n", greeting, company, link),
			}
		}
		return models.NewEmail{
			Subject: "Production access declined for the company " + company + " on Canopy",
			Body: fmt.Sprintf("%s\n\nCanopy's staff declined the request for production access of the company %s.\n\n"+
				"Their reason:\n%s\n\nSandbox keys keep working. You can answer the reason and request again here:\n%s\n",
				greeting, company, inertText(r.DecisionReason), link),
		}
	}
}

// newFormToken names one filling-in of a form, so that sending it again
// can be told from a new one.
func newFormToken() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("form token: %w", err)) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// maxUsedForms is how many used form tokens a session remembers.
const maxUsedForms = 5

// formUsed tells whether this session already sent the form token.
func (h *Handlers) formUsed(c echo.Context, token string) bool {
	if token == "" {
		return false
	}
	used, _ := stateOf(c).session.Values[keyUsedForms].(string)
	return slices.Contains(strings.Fields(used), token)
}

// useForm remembers that this session sent the form token.
func (h *Handlers) useForm(c echo.Context, token string) {
	if token == "" || strings.ContainsAny(token, " \t\n") {
		return
	}
	rs := stateOf(c)
	used, _ := rs.session.Values[keyUsedForms].(string)
	tokens := append(strings.Fields(used), token)
	if len(tokens) > maxUsedForms {
		tokens = tokens[len(tokens)-maxUsedForms:]
	}
	rs.session.Values[keyUsedForms] = strings.Join(tokens, " ")
	rs.dirty = true
}
