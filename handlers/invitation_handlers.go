package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// invitation shows an emailed invitation on the base domain: who invites
// whom to which company, and how to answer.
func (h *Handlers) invitation(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	inv, t, err := h.store.InvitationByToken(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	if h.signedInAsSomeoneElse(c, inv) {
		return h.askWhoAnswers(c, http.StatusOK, inv, t)
	}
	form := pages.InvitationForm{FirstName: inv.FirstName, LastName: inv.LastName}
	return h.renderInvitation(c, http.StatusOK, inv, t, form)
}

// signedInAsSomeoneElse tells whether the browser is signed in as an
// account other than the one the invitation is for.
func (h *Handlers) signedInAsSomeoneElse(c echo.Context, inv *models.Invitation) bool {
	u := stateOf(c).user
	return u != nil && models.NormalizeEmail(u.Email) != models.NormalizeEmail(inv.Email)
}

// askWhoAnswers asks someone signed in as another account whether to sign
// out and answer the invitation, or stay as they are: an invitation never
// switches accounts on its own.
func (h *Handlers) askWhoAnswers(c echo.Context, status int, inv *models.Invitation, t *models.Tenant) error {
	form := pages.InvitationForm{Invitation: inv, Tenant: t, Token: c.Param("token")}
	return h.render(c, status, pages.InvitationForSomeoneElse(h.shell(c, "Join "+t.Name, ""), form))
}

func (h *Handlers) renderInvitation(c echo.Context, status int, inv *models.Invitation, t *models.Tenant, form pages.InvitationForm) error {
	existing, err := h.store.UserByEmail(c.Request().Context(), inv.Email)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	form.Invitation, form.Tenant = inv, t
	form.HasAccount = err == nil && existing.Status == models.UserActive
	form.Token = c.Param("token")
	return h.render(c, status, pages.Invitation(h.shell(c, "Join "+t.Name, ""), form))
}

// acceptInvitation joins the company. A newcomer chooses a password and is
// signed in there; someone with an account is sent to sign in (or straight
// in, when already signed in as that person). Someone signed in as another
// account accepts nothing: they are asked first.
func (h *Handlers) acceptInvitation(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	ctx := c.Request().Context()
	token := c.Param("token")
	inv, t, err := h.store.InvitationByToken(ctx, token)
	if err != nil {
		return err
	}
	if h.signedInAsSomeoneElse(c, inv) {
		return h.askWhoAnswers(c, http.StatusConflict, inv, t)
	}
	form := pages.InvitationForm{FirstName: c.FormValue("first_name"), LastName: c.FormValue("last_name")}
	newcomer := models.NewUser{FirstName: form.FirstName, LastName: form.LastName, Password: c.FormValue("password")}
	if _, err := h.store.UserByEmail(ctx, inv.Email); errors.Is(err, models.ErrNotFound) {
		form.Errors = map[string]string{}
		if msg := models.ValidatePassword(newcomer.Password); msg != "" {
			form.Errors["password"] = msg
		} else if newcomer.Password != c.FormValue("password_confirm") {
			form.Errors["password_confirm"] = "The two passwords do not match."
		}
		if len(form.Errors) > 0 {
			return h.renderInvitation(c, http.StatusUnprocessableEntity, inv, t, form)
		}
	}
	acc, err := h.store.AcceptInvitation(ctx, token, newcomer)
	if fieldErrors(err, &form.Errors) {
		return h.renderInvitation(c, http.StatusUnprocessableEntity, inv, t, form)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("invitation accepted", "tenant", acc.Tenant.ID, "user", acc.User.ID, "new_account", acc.NewAccount)
	switch {
	case acc.NewAccount:
		// They just chose this password.
		if err := h.signIn(c, acc.User); err != nil {
			return err
		}
	case rs.user == nil || rs.user.ID != acc.User.ID:
		return c.Redirect(http.StatusSeeOther, h.loginURL(acc.Tenant.Subdomain, "")+"&joined=1")
	}
	return h.enterCompany(c, acc.Tenant.Subdomain, "", "")
}

// declineInvitation records a "no".
func (h *Handlers) declineInvitation(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	// Someone signed in as another account answers for nobody: they are
	// asked first, as when accepting.
	inv, invited, err := h.store.InvitationByToken(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	if h.signedInAsSomeoneElse(c, inv) {
		return h.askWhoAnswers(c, http.StatusConflict, inv, invited)
	}
	t, err := h.store.DeclineInvitation(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.InvitationDeclined(h.shell(c, "Invitation declined", ""), t.Name))
}
