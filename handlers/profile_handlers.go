package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// The Profile page (Account menu → Profile), on every host like Change
// password: the person's name, email, time zone for dates, and companies.
//
// Changing the email sends a link to the new address and a notice to the
// old one; the email changes only when the person opens the link signed in
// as themselves and confirms (GET shows the question, POST changes), so a
// typo or someone else's address never takes over the account. An address
// at a domain that a required single sign-on covers, at any company, is
// refused: the identity provider speaks for those addresses.

const (
	profilePath          = pages.ProfilePath
	emailConfirmPathBase = "/account/email/confirm/"
)

// profile shows the Profile page.
func (h *Handlers) profile(c echo.Context) error {
	u := stateOf(c).user
	return h.renderProfile(c, http.StatusOK, pages.ProfileData{FirstName: u.FirstName, LastName: u.LastName, TimeZone: u.TimeZone})
}

// renderProfile shows the Profile page with what d holds, adding what
// every showing of it needs: the pending change, the companies.
func (h *Handlers) renderProfile(c echo.Context, status int, d pages.ProfileData) error {
	rs := stateOf(c)
	ctx := c.Request().Context()
	var err error
	if d.Pending, err = h.store.PendingEmailChange(ctx, rs.user.ID, h.now()); err != nil {
		return err
	}
	if d.Companies, err = h.store.ProfileCompanies(ctx, rs.user.ID, models.ParsePage("", models.CompanyPageSize)); err != nil {
		return err
	}
	if rs.tenant != nil {
		d.CompanyZone, d.CurrentID = rs.tenant.Timezone, rs.tenant.ID
	}
	return h.render(c, status, pages.Profile(h.shell(c, "Profile", ""), d))
}

// saveProfileName saves the first and last name.
func (h *Handlers) saveProfileName(c echo.Context) error {
	u := stateOf(c).user
	first, last := c.FormValue("first_name"), c.FormValue("last_name")
	err := h.store.UpdateName(c.Request().Context(), u.ID, first, last)
	d := pages.ProfileData{FirstName: first, LastName: last, TimeZone: u.TimeZone}
	if fieldErrors(err, &d.Errors) {
		return h.renderProfile(c, http.StatusUnprocessableEntity, d)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Your name has been saved.")
	return c.Redirect(http.StatusSeeOther, profilePath)
}

// saveTimeZone saves the time zone dates are shown in ("" for the
// company's).
func (h *Handlers) saveTimeZone(c echo.Context) error {
	u := stateOf(c).user
	zone := c.FormValue("time_zone")
	err := h.store.SetTimeZone(c.Request().Context(), u.ID, zone)
	d := pages.ProfileData{FirstName: u.FirstName, LastName: u.LastName, TimeZone: zone}
	if fieldErrors(err, &d.Errors) {
		return h.renderProfile(c, http.StatusUnprocessableEntity, d)
	}
	if err != nil {
		return err
	}
	if zone == "" {
		h.flash(c, "success", "Times are shown in each company's time zone.")
	} else {
		h.flash(c, "success", "Times are shown in "+zone+".")
	}
	return c.Redirect(http.StatusSeeOther, profilePath)
}

// requestEmailChange records a change of email and sends the link to the
// new address and a notice to the old one. The email is where password
// resets go, so a browser must have confirmed it is the person recently
// (as for a new passkey): a session left open cannot move the account.
func (h *Handlers) requestEmailChange(c echo.Context) error {
	if !h.recentlyConfirmed(c) {
		return h.askToConfirm(c, profilePath)
	}
	u := stateOf(c).user
	newEmail := models.NormalizeEmail(c.FormValue("email"))
	token, hash := models.NewResetToken()
	err := h.store.RequestEmailChange(c.Request().Context(), models.EmailChangeRequest{User: u, NewEmail: newEmail, TokenHash: hash, Now: h.now()},
		func(email string) []models.NewEmail { return h.emailChangeMails(u, email, token) })
	d := pages.ProfileData{FirstName: u.FirstName, LastName: u.LastName, TimeZone: u.TimeZone, NewEmail: newEmail}
	if fieldErrors(err, &d.Errors) {
		return h.renderProfile(c, http.StatusUnprocessableEntity, d)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("email change requested", "user", u.ID)
	h.flash(c, "success", "We sent a link to "+newEmail+". Open it while signed in to change your email; until then you sign in with "+u.Email+".")
	return c.Redirect(http.StatusSeeOther, profilePath)
}

// emailChangeMails are the link to the new address and the notice to the
// old one.
func (h *Handlers) emailChangeMails(u *models.User, newEmail, token string) []models.NewEmail {
	link := h.cfg.BaseLink(emailConfirmPathBase+token, nil)
	return []models.NewEmail{{
		To:      newEmail,
		Subject: "Confirm your new Canopy email",
		Body: fmt.Sprintf("Hello %s,\n\nYou asked to sign in to Canopy with this address instead of %s.\n\n"+
			"Open this link while signed in to confirm:\n%s\n\nThe link works once, for 24 hours. If you did not ask, ignore this email: nothing changes.\n",
			u.Name(), u.Email, link),
	}, {
		To:      u.Email,
		Subject: "Your Canopy email is about to change",
		Body: fmt.Sprintf("Hello %s,\n\nSomeone signed in to your Canopy account asked to change its email from this address to %s. "+
			"It changes only once the link sent there is opened.\n\nIf this was not you, cancel it on your profile and change your password:\n%s\n",
			u.Name(), newEmail, h.cfg.BaseLink(profilePath, nil)),
	}}
}

// cancelEmailChange drops the pending change; its link stops working.
func (h *Handlers) cancelEmailChange(c echo.Context) error {
	if err := h.store.CancelEmailChange(c.Request().Context(), stateOf(c).user.ID); err != nil {
		return err
	}
	h.flash(c, "success", "The change of email was cancelled. Its link no longer works.")
	return c.Redirect(http.StatusSeeOther, profilePath)
}

// emailConfirmForm is the page the confirmation link opens: a question to
// the person signed in, or, for a visitor, a request to sign in first.
func (h *Handlers) emailConfirmForm(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	action := emailConfirmPathBase + url.PathEscape(c.Param("token"))
	d := pages.EmailConfirmData{Action: action, SignIn: h.loginURL("", action)}
	if rs.user == nil {
		return h.render(c, http.StatusOK, pages.EmailConfirm(h.shell(c, "Sign in to confirm", ""), d))
	}
	pending, err := h.store.PendingEmailChange(c.Request().Context(), rs.user.ID, h.now())
	if err != nil {
		return err
	}
	if pending == nil || pending.TokenHash != models.HashResetToken(c.Param("token")) {
		return h.render(c, http.StatusGone, pages.EmailLinkInvalid(h.shell(c, "This link no longer works", "")))
	}
	d.NewEmail = pending.NewEmail
	return h.render(c, http.StatusOK, pages.EmailConfirm(h.shell(c, "Confirm your new email", ""), d))
}

// confirmEmailChange changes the email. Sessions stay: the person is the
// same, only their address changed.
func (h *Handlers) confirmEmailChange(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	old := rs.user.Email
	u, err := h.store.ConfirmEmailChange(c.Request().Context(), rs.user.ID, models.HashResetToken(c.Param("token")), h.now())
	if errors.Is(err, models.ErrEmailChangeInvalid) {
		return h.render(c, http.StatusGone, pages.EmailLinkInvalid(h.shell(c, "This link no longer works", "")))
	}
	d := pages.ProfileData{FirstName: rs.user.FirstName, LastName: rs.user.LastName, TimeZone: rs.user.TimeZone}
	if fieldErrors(err, &d.Errors) {
		return h.renderProfile(c, http.StatusConflict, d)
	}
	if err != nil {
		return err
	}
	rs.user = u
	if err := h.recordEmailChange(c, u, old); err != nil {
		return err
	}
	h.logFor(c).Info("email changed", "user", u.ID)
	h.flash(c, "success", "Your email is now "+u.Email+" (it was "+old+"). Sign in with it from now on.")
	return c.Redirect(http.StatusSeeOther, profilePath)
}

// recordEmailChange keeps the change in the person's activity and tells
// the old address it no longer signs in, in case it was not them.
func (h *Handlers) recordEmailChange(c echo.Context, u *models.User, old string) error {
	detail := old + " → " + u.Email
	err := h.store.RecordAccountEvent(c.Request().Context(), models.AccountChange{
		UserID: u.ID, Action: models.AccountEmailChanged, Detail: detail, UserAgent: c.Request().UserAgent(),
	})
	if err != nil {
		return err
	}
	notice := h.accountNoticeMail(u, models.AccountEmailChanged, detail, c.RealIP())
	notice.To = old
	return h.store.EnqueueEmail(c.Request().Context(), notice)
}
