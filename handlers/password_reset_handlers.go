package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views/pages"
)

// Forgotten passwords (OWASP ASVS V2.5), on the base domain beside sign-in:
//
//   - GET/POST /login/forgot asks for an email and always answers the same
//     page, whether or not it has an account. Both cases do the same work
//     (models.RequestPasswordReset): a token made and hashed, the mail
//     composed, one lookup of the address and one row written; only the
//     outbox insert differs, for an active account.
//   - Rate limits (models.PasswordResetsPerEmail/PerAddress an hour, counted
//     in the database) stop the mails, never the answer, and never sign-in.
//   - GET/POST /login/reset/:token sets a new password: the link works once,
//     for 30 minutes, only the latest one, and not after a password change.
//     It ends every session and signs nobody in, so a second factor, if
//     any, still applies at the next sign-in.
//   - A form naming a company (?tenant=) whose required single sign-on
//     covers the address's domain answers with its identity provider
//     instead; that depends on the domain alone.

// Paths of the forgot-password pages.
const (
	forgotPath    = "/login/forgot"
	resetPathBase = "/login/reset/"
)

// forgotForm shows the forgot-password form on the base domain; a
// company's host sends it there, naming the company.
func (h *Handlers) forgotForm(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return c.Redirect(http.StatusSeeOther, h.forgotURL(rs.tenant.Subdomain))
	}
	tenant := models.NormalizeSubdomain(c.QueryParam("tenant"))
	form := pages.ForgotForm{Tenant: tenant, TenantName: h.tenantName(c, tenant), LoginHref: h.loginURL(tenant, "")}
	return h.render(c, http.StatusOK, pages.ForgotPassword(h.shell(c, "Forgot your password?", ""), form))
}

// forgotURL is the forgot-password form, for a company's sign-in when named.
func (h *Handlers) forgotURL(subdomain string) string {
	var q url.Values
	if subdomain != "" {
		q = url.Values{"tenant": {subdomain}}
	}
	return h.cfg.BaseLink(forgotPath, q)
}

// forgotPassword answers the forgot-password form. What it shows depends
// only on what was typed, never on whether an account exists, whether mail
// was sent, or whether a limit was reached.
func (h *Handlers) forgotPassword(c echo.Context) error {
	rs := stateOf(c)
	if rs.tenant != nil {
		return errNotFound
	}
	tenant := models.NormalizeSubdomain(c.FormValue("tenant"))
	form := pages.ForgotForm{
		Email: models.NormalizeEmail(c.FormValue("email")), Tenant: tenant,
		TenantName: h.tenantName(c, tenant), LoginHref: h.loginURL(tenant, ""),
	}
	if msg := models.ValidateEmail(form.Email); msg != "" {
		form.Error = msg
		return h.render(c, http.StatusUnprocessableEntity, pages.ForgotPassword(h.shell(c, "Forgot your password?", ""), form))
	}
	if company, required, err := h.ssoRequiredAt(c, tenant, form.Email); err != nil {
		return err
	} else if required {
		return h.render(c, http.StatusOK, pages.ForgotSSO(h.shell(c, "Use single sign-on", ""), company,
			models.EmailDomain(form.Email), h.ssoStartURL(tenant, "", form.Email), form.LoginHref))
	}
	token, hash := models.NewResetToken()
	sent, err := h.store.RequestPasswordReset(c.Request().Context(), models.PasswordResetRequest{
		Email: form.Email, EmailKey: h.resetEmailKey(form.Email), Address: cut(clientNetwork(c.RealIP()), maxAddressLen),
		TokenHash: hash, Now: h.now(),
	}, h.passwordResetMail(token))
	if err != nil {
		return err
	}
	h.logFor(c).Info("password reset requested", "mailed", sent, "ip", c.RealIP())
	return h.render(c, http.StatusOK, pages.ForgotSent(h.shell(c, "Check your email", ""), form.Email, form.LoginHref))
}

// ssoRequiredAt tells whether the company named by subdomain has a single
// sign-on in force that requires people with this email to use it, and
// the company's name.
func (h *Handlers) ssoRequiredAt(c echo.Context, subdomain, email string) (string, bool, error) {
	if subdomain == "" {
		return "", false, nil
	}
	lineage, err := h.store.LineageBySubdomain(c.Request().Context(), subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	inForce, err := h.ssoInForce(c.Request().Context(), lineage)
	if err != nil || inForce == nil || !lineage.Reachable() {
		return "", false, err
	}
	return lineage.Tenant().Name, inForce.RequiredFor(email), nil
}

// resetEmailKey names an email in the reset table by a keyed hash, as the
// sign-in counters do: the table lists no addresses.
func (h *Handlers) resetEmailKey(email string) string {
	m := hmac.New(sha256.New, h.secrets.SignInCounter)
	m.Write([]byte("password-reset\x00" + models.CanonicalEmail(email)))
	return hex.EncodeToString(m.Sum(nil))
}

// passwordResetMail is the reset link's message; the store fills in To.
// It names nobody, so it is composed the same way whether or not it is sent.
func (h *Handlers) passwordResetMail(token string) models.NewEmail {
	link := h.cfg.BaseLink(resetPathBase+token, nil)
	minutes := int(models.PasswordResetLifetime.Minutes())
	return models.NewEmail{
		Subject: "Choose a new Canopy password",
		Body: fmt.Sprintf("Hello,\n\nSomeone (we hope you) asked to choose a new password for the Canopy account of this address.\n\n"+
			"Open this link to choose one:\n%s\n\nThe link works once, for %d minutes. Choosing a new password signs you out everywhere; "+
			"you then sign in with it.\n\nIf you did not ask, you can ignore this email: your password stays as it is.\n", link, minutes),
	}
}

// resetForm shows the form a reset link opens, or says the link no longer
// works.
func (h *Handlers) resetForm(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	token := c.Param("token")
	ok, err := h.store.PasswordResetValid(c.Request().Context(), models.HashResetToken(token), h.now())
	if err != nil {
		return err
	}
	if !ok {
		return h.resetLinkInvalid(c)
	}
	return h.render(c, http.StatusOK, pages.ResetPassword(h.shell(c, "Choose a new password", ""), pages.ResetForm{Action: resetPathBase + url.PathEscape(token)}))
}

// resetPassword sets the new password. This browser's session ends too
// (whoever was signed in here), and the person signs in afresh.
func (h *Handlers) resetPassword(c echo.Context) error {
	if stateOf(c).tenant != nil {
		return errNotFound
	}
	token := c.Param("token")
	u, err := h.store.ResetPassword(c.Request().Context(), models.PasswordReset{
		TokenHash: models.HashResetToken(token), New: c.FormValue("new_password"), Confirm: c.FormValue("confirm_password"), Now: h.now(),
		UserAgent: c.Request().UserAgent(),
	}, func(u *models.User) models.NewEmail {
		return h.accountNoticeMail(u, models.AccountPasswordReset, "", c.RealIP())
	})
	form := pages.ResetForm{Action: resetPathBase + url.PathEscape(token)}
	if fieldErrors(err, &form.Errors) {
		return h.render(c, http.StatusUnprocessableEntity, pages.ResetPassword(h.shell(c, "Choose a new password", ""), form))
	}
	if errors.Is(err, models.ErrResetLinkInvalid) {
		return h.resetLinkInvalid(c)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("password reset; every session ended", "user", u.ID, "ip", c.RealIP())
	h.resetSession(c)
	h.flash(c, "success", "Your password has been changed, and every session of your account was signed out. Sign in with your new password.")
	return c.Redirect(http.StatusSeeOther, h.cfg.BaseLink("/login", nil))
}

func (h *Handlers) resetLinkInvalid(c echo.Context) error {
	return h.render(c, http.StatusGone, pages.ResetLinkInvalid(h.shell(c, "This link no longer works", ""), h.forgotURL("")))
}
