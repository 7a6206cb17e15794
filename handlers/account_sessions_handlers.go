package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// Account → Sessions: the person's signed-in browsers (session records,
// models/session.go), on every address, each of which they may sign out.

// sessionsPath is Account → Sessions.
const sessionsPath = pages.SessionsPath

// accountSessions lists the signed-in person's browsers, this one marked.
func (h *Handlers) accountSessions(c echo.Context) error {
	rs := stateOf(c)
	list, err := h.store.SessionsOf(c.Request().Context(), rs.user.ID, h.now())
	if err != nil {
		return err
	}
	d := pages.SessionsData{Sessions: thisBrowserFirst(list, h.sessionRecordID(c)), CurrentID: h.sessionRecordID(c)}
	return h.render(c, http.StatusOK, pages.Sessions(h.shell(c, "Sessions", ""), d))
}

// endSession signs one of the person's browsers out, on every address it
// entered. Ending this browser's own is signing out here; another person's
// session, or one already ended, is not found.
func (h *Handlers) endSession(c echo.Context) error {
	rs := stateOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return errNotFound
	}
	if id == h.sessionRecordID(c) {
		if err := h.endThisSession(c); err != nil {
			return err
		}
		h.resetSession(c)
		return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink("/login", url.Values{"signed_out": {"1"}}))
	}
	if err := h.store.EndSession(c.Request().Context(), rs.user.ID, id); err != nil {
		return err
	}
	if err := h.store.RecordAccountEvent(c.Request().Context(), models.AccountChange{
		UserID: rs.user.ID, Action: models.AccountSessionEnded, UserAgent: c.Request().UserAgent(),
	}); err != nil {
		return err
	}
	h.logFor(c).Info("session ended", "user", rs.user.ID, "session", id)
	h.flash(c, "success", "That browser has been signed out.")
	return c.Redirect(http.StatusSeeOther, sessionsPath)
}

// endOtherSessions signs out every browser of the person but this one.
func (h *Handlers) endOtherSessions(c echo.Context) error {
	rs := stateOf(c)
	ended, err := h.store.EndOtherSessions(c.Request().Context(), rs.user, h.sessionRecordID(c))
	if err != nil {
		return err
	}
	h.logFor(c).Info("other sessions ended", "user", rs.user.ID, "ended", ended)
	message := "Every other browser has been signed out."
	if ended == 0 {
		message = "No other browser was signed in."
	} else if err := h.store.RecordAccountEvent(c.Request().Context(), models.AccountChange{
		UserID: rs.user.ID, Action: models.AccountSessionsEnded, Detail: plural(int(ended), "browser"), UserAgent: c.Request().UserAgent(),
	}); err != nil {
		return err
	}
	h.flash(c, "success", message)
	return c.Redirect(http.StatusSeeOther, sessionsPath)
}

// endThisSession ends the session record of this browser, which signs it
// out of every address it entered; the caller empties this host's session.
func (h *Handlers) endThisSession(c echo.Context) error {
	rs := stateOf(c)
	err := h.store.EndSession(c.Request().Context(), rs.user.ID, h.sessionRecordID(c))
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return err
	}
	h.logFor(c).Info("signed out", "user", rs.user.ID)
	return nil
}

// thisBrowserFirst puts the session of the browser looking at the list
// at its top; the others stay newest activity first.
func thisBrowserFirst(list []models.UserSession, current int64) []models.UserSession {
	for i, sess := range list {
		if sess.ID == current && i > 0 {
			out := append([]models.UserSession{sess}, list[:i]...)
			return append(out, list[i+1:]...)
		}
	}
	return list
}
