package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// keyConfirmedAt is when the session's person last proved it was them —
// by signing in, or by typing their password again — in Unix seconds.
const keyConfirmedAt = "confirmed"

// confirmWindow is how long a proof lasts before a change to how the
// account signs in asks for the password again.
const confirmWindow = 10 * time.Minute

// noteConfirmed records that the session's person just proved it was them.
func (h *Handlers) noteConfirmed(c echo.Context) {
	rs := stateOf(c)
	rs.session.Values[keyConfirmedAt] = h.now().Unix()
	rs.dirty = true
}

// recentlyConfirmed tells whether the session's person proved it was them
// within the last few minutes: typed their password again at this address,
// or signed this browser in (at any of its addresses: a company's address
// reached by a hand-off just after signing in asks nothing more).
func (h *Handlers) recentlyConfirmed(c echo.Context) bool {
	rs := stateOf(c)
	at, _ := rs.session.Values[keyConfirmedAt].(int64)
	confirmed := time.Unix(at, 0)
	if at == 0 || rs.signedInAt.After(confirmed) {
		confirmed = rs.signedInAt
	}
	return !confirmed.IsZero() && h.now().Sub(confirmed) < confirmWindow
}

// askToConfirm sends the person to confirm it is them, then back to next
// (a page of this host: the form they were using).
func (h *Handlers) askToConfirm(c echo.Context, next string) error {
	return c.Redirect(http.StatusSeeOther, views.AccountConfirmPath+"?"+url.Values{"next": {safeNext(next)}}.Encode())
}

// confirmedMessage tells the person, back on the page they were using,
// that they can now make the change they started.
const confirmedMessage = "Thank you. You can make the change now; you will not be asked again for a few minutes."

// confirmNext is where a confirmation returns to: an account page of this
// host, or the profile.
func confirmNext(next string) string {
	next = safeNext(next)
	if !strings.HasPrefix(next, "/account/") || strings.HasPrefix(next, views.AccountConfirmPath) {
		return views.AccountProfilePath
	}
	return next
}

// confirmForm shows "Confirm it's you".
func (h *Handlers) confirmForm(c echo.Context) error {
	hasPassword, err := h.store.HasPassword(c.Request().Context(), stateOf(c).user.ID)
	if err != nil {
		return err
	}
	return h.renderConfirm(c, http.StatusOK, pages.ConfirmForm{Next: confirmNext(c.QueryParam("next")), Password: hasPassword})
}

// confirm checks the password typed again. Attempts count on the
// person's own counter, like changing the password, so a session left
// open cannot be used to guess it faster than the sign-in form.
func (h *Handlers) confirm(c echo.Context) error {
	rs := stateOf(c)
	form := pages.ConfirmForm{Next: confirmNext(c.FormValue("next")), Password: true, Errors: map[string]string{}}
	password := c.FormValue("password")
	if password == "" {
		form.Errors["password"] = "Enter your password."
		return h.renderConfirm(c, http.StatusUnprocessableEntity, form)
	}
	attempt, err := h.beginPasswordCheck(c, rs.user.ID)
	if err != nil {
		return err
	}
	if attempt.Refused() {
		form.Error = "Too many attempts. " + h.retryLater(c, attempt)
		return h.renderConfirm(c, http.StatusTooManyRequests, form)
	}
	ok, hasPassword, err := h.store.CheckOwnPassword(c.Request().Context(), rs.user.ID, password)
	if err != nil {
		return err
	}
	form.Password = hasPassword
	if !ok {
		h.logFor(c).Info("confirmation refused: wrong password", "user", rs.user.ID, "ip", c.RealIP())
		form.Errors["password"] = "The password is not correct."
		return h.renderConfirm(c, http.StatusUnprocessableEntity, form)
	}
	if err := h.currentPasswordProven(c, attempt); err != nil {
		return err
	}
	h.noteConfirmed(c)
	h.flash(c, "success", confirmedMessage)
	return c.Redirect(http.StatusSeeOther, form.Next)
}

// renderConfirm shows "Confirm it's you", offering the person's passkeys
// when they have some.
func (h *Handlers) renderConfirm(c echo.Context, status int, f pages.ConfirmForm) error {
	keys, err := h.store.Passkeys(c.Request().Context(), stateOf(c).user.ID)
	if err != nil {
		return err
	}
	f.Passkeys = len(keys) > 0 && h.passkeysWorkHere(c)
	return h.render(c, status, pages.ConfirmIdentity(h.shell(c, "Confirm it’s you", ""), f))
}

// accountActivity lists the changes to the person's account.
func (h *Handlers) accountActivity(c echo.Context) error {
	events, err := h.store.AccountEvents(c.Request().Context(), stateOf(c).user.ID, 100)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, pages.AccountActivity(h.shell(c, "Account activity", ""), pages.AccountActivityData{Events: events}))
}

// recordAccountChange keeps a change to the request's person's account in
// their record and mails them of it, both inside the request's
// transaction: a change they did not make does not go unnoticed. detail
// says what in words (a passkey's name); it is shown and mailed as it is.
func (h *Handlers) recordAccountChange(c echo.Context, u *models.User, action models.AccountAction, detail string) error {
	ctx := c.Request().Context()
	err := h.store.RecordAccountEvent(ctx, models.AccountChange{UserID: u.ID, Action: action, Detail: detail, UserAgent: c.Request().UserAgent()})
	if err != nil {
		return err
	}
	return h.store.EnqueueEmail(ctx, h.accountNoticeMail(u, action, detail, c.RealIP()))
}

// accountNoticeMail tells a person of a change to their account.
func (h *Handlers) accountNoticeMail(u *models.User, action models.AccountAction, detail, ip string) models.NewEmail {
	what := action.Label()
	if detail != "" {
		what += ": " + detail
	}
	body := fmt.Sprintf(`Hello %s,

This is a notice of a change to your Canopy account (%s):

    %s
    %s, from %s

If you made this change, there is nothing more to do.

If you did not, someone else may have your password. Change it now, and
sign out of every other browser:

    %s

Your account's activity: %s
`, u.Name(), u.Email, what, views.FormatTime(h.now(), u.Location()), orUnknownAddress(ip),
		h.cfg.BaseLink("/login/forgot", nil), h.cfg.BaseLink(views.AccountActivityPath, nil))
	return models.NewEmail{To: u.Email, Subject: "Canopy: " + action.Label(), Body: body}
}

func orUnknownAddress(ip string) string {
	if ip == "" {
		return "an unknown address"
	}
	return ip
}
