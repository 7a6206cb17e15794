package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// team is Settings → Team: members and invitations, searchable, paginated.
func (h *Handlers) team(c echo.Context) error {
	rs := stateOf(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	// Who signs in with two-factor is for those who manage settings, who
	// may require it; they alone can list the members without it.
	showTwoFactor := rs.membership.Role.Can(models.PermManageSettings)
	filter := models.TeamFilter{Query: q, WithoutTwoFactor: showTwoFactor && c.QueryParam("twofactor") == "off"}
	page, err := h.store.TeamFiltered(c.Request().Context(), rs.tenant.ID, filter, models.ParsePage(c.QueryParam("page"), models.TeamPageSize))
	if err != nil {
		return err
	}
	data := pages.TeamData{
		Page:             page,
		Query:            q,
		TwoFactor:        showTwoFactor,
		WithoutTwoFactor: filter.WithoutTwoFactor,
		ActorUserID:      rs.user.ID,
		ActorRole:        rs.membership.Role,
		Assignable:       models.AssignableRoles(rs.membership.Role),
	}
	if rs.tenant.OwnerUserID != nil {
		data.OwnerUserID = *rs.tenant.OwnerUserID
	}
	return h.render(c, http.StatusOK, pages.Team(h.shell(c, "Settings", "settings"), data))
}

// newMemberForm is the Add member page, a focused page with the company tile.
func (h *Handlers) newMemberForm(c echo.Context) error {
	form := pages.MemberForm{
		Email:     c.QueryParam("email"),
		FirstName: c.QueryParam("first_name"),
		LastName:  c.QueryParam("last_name"),
		Role:      string(models.RoleViewer),
	}
	return h.renderMemberForm(c, http.StatusOK, form)
}

func (h *Handlers) renderMemberForm(c echo.Context, status int, form pages.MemberForm) error {
	rs := stateOf(c)
	templates, err := h.store.TemplatesOf(c.Request().Context(), rs.tenant.ID)
	if err != nil {
		return err
	}
	form.Templates = templates
	form.Assignable = models.AssignableRoles(rs.membership.Role)
	return h.render(c, status, pages.AddMember(h.shell(c, "Add member", "settings"), form))
}

// addMember adds someone with an active account at once, and emails anyone
// else an invitation (docs/product.md, Team and invitations).
func (h *Handlers) addMember(c echo.Context) error {
	rs := stateOf(c)
	form := pages.MemberForm{
		FirstName: c.FormValue("first_name"),
		LastName:  c.FormValue("last_name"),
		Email:     c.FormValue("email"),
		Role:      c.FormValue("role"),
	}
	ids, err := formIDs(c, "templates")
	if err != nil {
		form.Errors = map[string]string{"templates": "Choose templates from the list."}
		return h.renderMemberForm(c, http.StatusUnprocessableEntity, form)
	}
	form.TemplateIDs = ids
	req := models.InviteRequest{
		TenantID: rs.tenant.ID, InviterID: rs.user.ID, InviterRole: rs.membership.Role,
		Email: form.Email, FirstName: form.FirstName, LastName: form.LastName, Role: models.Role(form.Role), TemplateIDs: ids,
	}
	outcome, err := h.store.Invite(c.Request().Context(), req, h.invitationMail(rs.user))
	if fieldErrors(err, &form.Errors) {
		return h.renderMemberForm(c, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	email := models.NormalizeEmail(form.Email)
	switch outcome {
	case models.AddedAtOnce:
		h.flash(c, "success", email+" already has a Canopy account and is now a member of "+rs.tenant.Name+". No email was needed.")
	default:
		h.flash(c, "success", "Invitation sent to "+email+". The link works for 7 days.")
	}
	return c.Redirect(http.StatusSeeOther, views.TeamPath)
}

// editMemberForm is the Edit member form: the member's role and the
// templates they may order from, changed together.
func (h *Handlers) editMemberForm(c echo.Context) error {
	change, err := h.memberChange(c)
	if err != nil {
		return err
	}
	m, err := h.store.MemberForEdit(c.Request().Context(), change)
	if err != nil {
		return err
	}
	return h.renderMemberEdit(c, http.StatusOK, m, pages.MemberEditForm{Role: string(m.Role), TemplateIDs: m.TemplateIDs})
}

// renderMemberEdit shows the Edit member form of m with what form holds.
func (h *Handlers) renderMemberEdit(c echo.Context, status int, m *models.MemberToEdit, form pages.MemberEditForm) error {
	rs := stateOf(c)
	templates, err := h.store.TemplatesOf(c.Request().Context(), rs.tenant.ID)
	if err != nil {
		return err
	}
	form.ID, form.Name, form.Email, form.Owner = m.ID, m.User.Name(), m.User.Email, m.Owner
	form.Templates, form.Assignable, form.Back = templates, models.AssignableRoles(rs.membership.Role), teamReturn(c)
	return h.render(c, status, pages.EditMember(h.shell(c, "Edit member", "settings"), form))
}

// updateMember saves the Edit member form: role and templates in one
// transaction, under the Team rules (docs/product.md, Roles).
func (h *Handlers) updateMember(c echo.Context) error {
	change, err := h.memberChange(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := pages.MemberEditForm{Role: c.FormValue("role")}
	ids, err := formIDs(c, "templates")
	if err == nil {
		form.TemplateIDs = ids
		err = h.store.UpdateMember(ctx, change, models.MemberUpdate{Role: models.Role(form.Role), TemplateIDs: ids})
	} else {
		err = models.FieldErrors{"templates": "Choose templates from the list."}
	}
	if fieldErrors(err, &form.Errors) {
		m, err := h.store.MemberForEdit(ctx, change)
		if err != nil {
			return err
		}
		return h.renderMemberEdit(c, http.StatusUnprocessableEntity, m, form)
	}
	if err != nil {
		return err
	}
	m, err := h.store.MemberForEdit(ctx, change)
	if err != nil {
		return err
	}
	h.flash(c, "success", "Saved. "+memberSummary(m))
	return c.Redirect(http.StatusSeeOther, teamReturn(c))
}

// memberSummary says what a member is now: their role and what they may order from.
func memberSummary(m *models.MemberToEdit) string {
	role := m.Role.Label()
	article := "a "
	if strings.ContainsRune("AEIOU", rune(role[0])) {
		article = "an "
	}
	orders := "every template"
	if n := len(m.TemplateIDs); n == 1 {
		orders = "1 template"
	} else if n > 1 {
		orders = strconv.Itoa(n) + " templates"
	}
	return m.User.Name() + " is " + article + role + " and may order from " + orders + "."
}

// removeMember takes a member out of the company.
func (h *Handlers) removeMember(c echo.Context) error {
	change, err := h.memberChange(c)
	if err != nil {
		return err
	}
	if err := h.store.RemoveMembership(c.Request().Context(), change); err != nil {
		return err
	}
	h.flash(c, "success", "Member removed. They lose access to "+stateOf(c).tenant.Name+" immediately.")
	return c.Redirect(http.StatusSeeOther, teamReturn(c))
}

// transferOwnership makes another member the company's owner.
func (h *Handlers) transferOwnership(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	owner, err := h.store.TransferOwnership(c.Request().Context(), rs.tenant.ID, rs.user.ID, id)
	if errors.Is(err, models.ErrOwnsAnother) {
		h.flash(c, "error", refusal(err))
		return c.Redirect(http.StatusSeeOther, teamReturn(c))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", owner.Name()+" is now the owner of "+rs.tenant.Name+". You remain a Super Admin.")
	return c.Redirect(http.StatusSeeOther, teamReturn(c))
}

func (h *Handlers) resendInvitation(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	err = h.store.ResendInvitation(c.Request().Context(), rs.tenant.ID, id, rs.membership.Role, h.invitationMail(rs.user))
	if err != nil {
		return err
	}
	h.flash(c, "success", invitationResent)
	return c.Redirect(http.StatusSeeOther, teamReturn(c))
}

func (h *Handlers) revokeInvitation(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.store.RevokeInvitation(c.Request().Context(), rs.tenant.ID, id, rs.membership.Role); err != nil {
		return err
	}
	h.flash(c, "success", "Invitation revoked. Its link no longer works.")
	return c.Redirect(http.StatusSeeOther, teamReturn(c))
}

func (h *Handlers) memberChange(c echo.Context) (models.MemberChange, error) {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return models.MemberChange{}, err
	}
	return models.MemberChange{TenantID: rs.tenant.ID, ActorUserID: rs.user.ID, ActorRole: rs.membership.Role, MembershipID: id}, nil
}

// teamReturn keeps the search and page the person was on.
func teamReturn(c echo.Context) string {
	q := url.Values{}
	if v := c.FormValue("q"); v != "" {
		q.Set("q", v)
	}
	if v := c.FormValue("page"); v != "" {
		q.Set("page", v)
	}
	if len(q) == 0 {
		return views.TeamPath
	}
	return views.TeamPath + "?" + q.Encode()
}

// invitationResent is what resending an invitation, or inviting again after
// the link expired, tells the person who did it.
const invitationResent = "Invitation sent again with a new link, valid for 7 days. Any earlier link no longer works."

// invitationMail writes the invitation email. Its link is built from the
// configured base URL, never from the request's Host header.
func (h *Handlers) invitationMail(inviter *models.User) models.MailFor {
	return func(inv *models.Invitation, t *models.Tenant, token string) models.NewEmail {
		link := h.cfg.BaseLink(views.InvitationLinkPath(token), nil)
		greeting := "Hello,"
		if inv.FirstName != "" {
			greeting = "Hello " + inv.FirstName + ","
		}
		company := quotedCompany(t.Name)
		what := "join the company " + company + " on Canopy as " + inv.Role.Label()
		if inv.MakesOwner {
			what = "become the owner of the company " + company + ", new on Canopy"
		}
		body := fmt.Sprintf("%s\n\n%s (%s) invited you to %s.\n\nOpen this link to accept or decline:\n%s\n\n"+
			"The link works once and expires on %s. If you were not expecting this, you can ignore this email.\n\n"+
			"%s is the company's name, chosen by whoever created it; it is not a message from Canopy.\n",
			greeting, inviter.Name(), inviter.Email, what, link, views.FormatTime(inv.ExpiresAt, t.Location()), company)
		return models.NewEmail{
			TenantID: t.ID,
			To:       inv.Email,
			Subject:  inviter.Name() + " invited you to the company " + company + " on Canopy",
			Body:     body,
		}
	}
}

// pathID reads the :id route parameter; a malformed one is a 404.
func pathID(c echo.Context) (int64, error) { return paramID(c, "id") }

// paramID reads a numeric route parameter; a malformed one is a 404.
func paramID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// formIDs reads a multi-valued form field of ids.
func formIDs(c echo.Context, field string) ([]int64, error) {
	if err := c.Request().ParseForm(); err != nil {
		return nil, err
	}
	var ids []int64
	for _, raw := range c.Request().Form[field] {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("bad id %q", raw)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
