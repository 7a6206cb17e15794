package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// passwordPath is the signed-in person's Change password page, on every host.
const passwordPath = "/account/password"

// passwordForm shows the Change password page.
func (h *Handlers) passwordForm(c echo.Context) error {
	return h.renderPasswordForm(c, http.StatusOK, pages.PasswordForm{})
}

// changePassword replaces the signed-in person's password. Every other
// session of theirs ends with it, in the same transaction: every other
// browser, on every address; this browser keeps its session record, with a
// fresh session on this host, so they stay signed in here. Attempts that test the current password are counted on the
// person's own counter, throttled like an account's, so a stolen session
// cannot guess it any faster than the sign-in form; not on the account's
// sign-in counter, which anyone can lock by sending wrong passwords for the
// email, and which must not keep the person from changing their password.
// The change is kept in the person's account activity and mailed to them.
func (h *Handlers) changePassword(c echo.Context) error {
	rs := stateOf(c)
	in := models.PasswordChange{
		Current: c.FormValue("current_password"),
		New:     c.FormValue("new_password"),
		Confirm: c.FormValue("confirm_password"),
	}
	var attempt *models.Attempt
	if in.Current != "" {
		var err error
		if attempt, err = h.beginPasswordCheck(c, rs.user.ID); err != nil {
			return err
		}
		if attempt.Refused() {
			h.logFor(c).Warn("password change refused: too many attempts", "user", rs.user.ID, "ip", c.RealIP())
			return h.renderPasswordForm(c, http.StatusTooManyRequests, pages.PasswordForm{
				Error: "Too many attempts. " + h.retryLater(c, attempt),
			})
		}
	}
	u, err := h.store.ChangePassword(c.Request().Context(), rs.user.ID, in)
	var refused pages.PasswordForm
	if fieldErrors(err, &refused.Errors) {
		if refused.Errors["current_password"] != "" && in.Current != "" {
			h.logFor(c).Info("password change refused: wrong current password", "user", rs.user.ID, "ip", c.RealIP())
		} else if err := h.currentPasswordProven(c, attempt); err != nil {
			return err // the new password was refused, but the current one was right
		}
		return h.renderPasswordForm(c, http.StatusUnprocessableEntity, refused)
	}
	if err != nil {
		return err
	}
	if err := h.currentPasswordProven(c, attempt); err != nil {
		return err
	}
	h.logFor(c).Info("password changed; every other session ended", "user", u.ID, "ip", c.RealIP())
	if err := h.recordAccountChange(c, u, models.AccountPasswordChanged, ""); err != nil {
		return err
	}
	if _, err := h.store.EndOtherSessions(c.Request().Context(), u, h.sessionRecordID(c)); err != nil {
		return err
	}
	if err := h.bindSession(c, u, h.sessionRecordID(c)); err != nil {
		return err
	}
	h.noteConfirmed(c)
	if err := h.loadMembership(c); err != nil {
		return err
	}
	h.flash(c, "success", "Your password has been changed. Every other session of your account has been signed out.")
	return c.Redirect(http.StatusSeeOther, passwordPath)
}

// currentPasswordProven settles the attempt of a form whose current
// password was right, so it is not counted as a failure.
func (h *Handlers) currentPasswordProven(c echo.Context, attempt *models.Attempt) error {
	if attempt == nil {
		return nil
	}
	return h.store.AttemptSucceeded(c.Request().Context(), attempt)
}

func (h *Handlers) renderPasswordForm(c echo.Context, status int, f pages.PasswordForm) error {
	f.BackHref, f.BackLabel = "/", "Home"
	if stateOf(c).tenant == nil {
		f.BackLabel = "My companies"
	}
	return h.render(c, status, pages.ChangePassword(h.shell(c, "Change password", ""), f))
}
