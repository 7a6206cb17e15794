package handlers

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// subTenantPlace is where sub-tenants are listed and created: below the
// host's tenant (the Sub-Tenants page; under the platform tenant, the
// customer companies), or below a tenant in its subtree (that tenant's
// Sub-Tenants tab), with the same search, pages and Create form.
type subTenantPlace struct {
	parent *models.Tenant
	path   models.TreePath       // the way down to parent from the host's tenant; nil for the host's own
	list   string                // the list's path
	frame  *pages.SubTenantFrame // the details page the list is a tab of; nil for the host's own
}

func (p subTenantPlace) newPath() string { return p.list + "/new" }

// ownSubTenants is the host's own Sub-Tenants page.
func (h *Handlers) ownSubTenants(c echo.Context) (subTenantPlace, error) {
	return subTenantPlace{parent: stateOf(c).tenant, list: views.SubTenantsPath}, nil
}

// childSubTenants is the Sub-Tenants tab of a tenant below the host's.
func (h *Handlers) childSubTenants(c echo.Context) (subTenantPlace, error) {
	path, err := h.subTenantParam(c)
	if err != nil {
		return subTenantPlace{}, err
	}
	frame := h.subTenantFrame(c, path, "sub-tenants")
	return subTenantPlace{parent: path.Target(), path: path, list: views.SubTenantPath(path.Target().ID, "sub-tenants"), frame: &frame}, nil
}

// subTenantHandler adapts one of the handlers below to a place.
func (h *Handlers) subTenantHandler(place func(echo.Context) (subTenantPlace, error), fn func(echo.Context, subTenantPlace) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, err := place(c)
		if err != nil {
			return err
		}
		return fn(c, p)
	}
}

// subTenants lists the sub-tenants of a place.
func (h *Handlers) subTenants(c echo.Context, p subTenantPlace) error {
	rs := stateOf(c)
	q := strings.TrimSpace(c.QueryParam("q"))
	pageRequest := models.ParsePage(c.QueryParam("page"), models.SubTenantPageSize)
	var page models.Page[models.SubTenant]
	var err error
	if p.path == nil {
		page, err = h.store.SubTenants(c.Request().Context(), p.parent.ID, q, pageRequest)
	} else {
		page, err = h.store.SubTenantsBelow(c.Request().Context(), p.path, q, pageRequest)
	}
	if err != nil {
		return err
	}
	data := pages.SubTenantsData{Page: page, Query: q, Labels: pages.SubTenantLabelsFor(p.parent), ListPath: p.list, NewPath: p.newPath()}
	if p.frame == nil {
		data.Companies = rs.tenant.IsPlatform()
		return h.render(c, http.StatusOK, pages.SubTenants(h.shell(c, data.Labels.Plural, "sub-tenants"), data))
	}
	data.InactiveAbove = p.frame.InactiveFromHere()
	return h.render(c, http.StatusOK, pages.SubTenantChildren(h.shell(c, p.parent.Name, "sub-tenants"), *p.frame, data))
}

// newSubTenantForm is the Create Sub-Tenant form; the timezone starts as
// the parent's. The form is sent back here with GET and check=1: its
// details are checked without writing anything and either shown again with
// what is wrong, or with the confirmation the creation needs. Being GETs,
// the browser's Back button returns to each without sending anything again.
//
// Platform staff choose the plan and the company it is billed to instead
// of the customer's checkbox; the bill-to search (find_bill_to) shows the
// form again with the companies matching, checking nothing.
func (h *Handlers) newSubTenantForm(c echo.Context, p subTenantPlace) error {
	q := c.QueryParams()
	form := h.subTenantFormFrom(c, q.Get)
	if !q.Has("timezone") {
		form.Timezone = p.parent.Timezone
	}
	if q.Get("check") != "1" || form.FindBillTo {
		return h.renderSubTenantForm(c, p, http.StatusOK, form)
	}
	ctx := c.Request().Context()
	n := h.newSubTenant(c, p, form)
	err := h.store.ValidateSubTenant(ctx, &n)
	form.Name, form.Subdomain, form.Description, form.Email, form.Timezone = n.Name, n.Subdomain, n.Description, n.Email, n.Timezone
	if fieldErrors(err, &form.Errors) {
		if form.Existing, err = h.createdAlready(c, p, n); err != nil {
			return err
		}
		return h.renderSubTenantForm(c, p, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	form.Confirming = true
	return h.renderSubTenantForm(c, p, http.StatusOK, form)
}

// subTenantFormFrom reads the Create Sub-Tenant form's fields: on the
// platform's host, staff's plan and bill-to; anywhere else the customer's
// checkbox (a crafted plan or bill-to is never read there).
func (h *Handlers) subTenantFormFrom(c echo.Context, value func(string) string) pages.SubTenantForm {
	form := pages.SubTenantForm{
		Name:        value("name"),
		Subdomain:   value("subdomain"),
		Description: value("description"),
		Email:       value("email"),
		Timezone:    value("timezone"),
	}
	if !stateOf(c).tenant.IsPlatform() {
		form.BillingRollsUp = value("billing_rolls_up") == "on"
		return form
	}
	form.StaffTerms = true
	form.PlanID, form.BillToID = formID(value("plan_id")), formID(value("bill_to"))
	form.BillToQuery, form.FindBillTo = strings.TrimSpace(value("bill_to_q")), value("find_bill_to") != ""
	return form
}

func (h *Handlers) newSubTenant(c echo.Context, p subTenantPlace, form pages.SubTenantForm) models.NewSubTenant {
	return models.NewSubTenant{
		ParentID: p.parent.ID, ActorUserID: stateOf(c).user.ID, Name: form.Name, Subdomain: form.Subdomain,
		Description: form.Description, Email: form.Email, Timezone: form.Timezone, BillingRollsUp: form.BillingRollsUp,
		PlanID: form.PlanID, BillToTenantID: form.BillToID,
	}
}

// createdAlready is the sub-tenant these details created, when the person
// comes back to them (Back after creating it): the place's child at that
// subdomain, with that name.
func (h *Handlers) createdAlready(c echo.Context, p subTenantPlace, n models.NewSubTenant) (*models.Tenant, error) {
	t, err := h.store.TenantBySubdomain(c.Request().Context(), n.Subdomain)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if t.ParentID == nil || *t.ParentID != p.parent.ID || !strings.EqualFold(t.Name, n.Name) {
		return nil, nil
	}
	return t, nil
}

func (h *Handlers) renderSubTenantForm(c echo.Context, p subTenantPlace, status int, form pages.SubTenantForm) error {
	form.Labels = pages.SubTenantLabelsFor(p.parent)
	form.BaseHost = h.hostname
	form.Scheme = h.cfg.BaseURL.Scheme
	form.ParentName, form.ListPath, form.FormPath = p.parent.Name, p.list, p.newPath()
	if form.StaffTerms {
		if err := h.loadStartingTerms(c, p, &form); err != nil {
			return err
		}
	}
	return h.render(c, status, pages.NewSubTenant(h.shell(c, "Create "+form.Labels.Singular, "sub-tenants"), form))
}

// loadStartingTerms fills staff's choices of the form: the plans offered,
// the one it starts on unless they choose another (the parent's, or the
// default plan under the platform, as the store would give it), and the
// company it is billed to with the matches of their search.
func (h *Handlers) loadStartingTerms(c echo.Context, p subTenantPlace, form *pages.SubTenantForm) error {
	ctx := c.Request().Context()
	plans, err := h.store.BillingPlans(ctx, false)
	if err != nil {
		return err
	}
	form.Plans = plans
	if form.PlanID == 0 {
		form.PlanID = startingPlan(plans)
		if !p.parent.IsPlatform() {
			parentTerms, err := h.store.LatestBillingTerms(ctx, p.parent.ID)
			if err != nil && !errors.Is(err, models.ErrNotFound) {
				return err
			}
			if err == nil && slices.ContainsFunc(plans, func(pl models.BillingPlan) bool { return pl.ID == parentTerms.PlanID }) {
				form.PlanID = parentTerms.PlanID
			}
		}
	}
	searched := form.FindBillTo || form.BillToQuery != ""
	if form.BillTo, err = h.billToPicker(c, 0, form.BillToID, form.BillToQuery, searched); err != nil {
		return err
	}
	form.BillTo.Error = form.Errors["bill_to"]
	return nil
}

// startingPlan is the default plan among those offered, else the first.
func startingPlan(plans []models.BillingPlan) int64 {
	for _, p := range plans {
		if p.IsDefault {
			return p.ID
		}
	}
	if len(plans) > 0 {
		return plans[0].ID
	}
	return 0
}

// createSubTenant creates the tenant and its owner once the person has
// confirmed the details that cannot be edited later. Details that are not
// confirmed, or no longer valid (a subdomain taken meanwhile), go back to
// the form's own address, which checks them again and says what is wrong:
// every page of the way is a GET, and this POST is answered by a redirect.
// The trade-off, for the browser's Back button: the details being checked
// (the owner's email among them) are in that address, so in this browser's
// history; the Referrer-Policy keeps them from other sites, and the request
// log records paths only.
func (h *Handlers) createSubTenant(c echo.Context, p subTenantPlace) error {
	rs := stateOf(c)
	form := h.subTenantFormFrom(c, c.FormValue)
	recheck := p.newPath() + "?" + form.Query(true).Encode()
	if c.FormValue("confirmed") != "yes" {
		return c.Redirect(http.StatusSeeOther, recheck)
	}
	n := h.newSubTenant(c, p, form)
	t, err := h.store.CreateSubTenant(c.Request().Context(), n, h.invitationMail(rs.user))
	var problems models.FieldErrors
	if errors.As(err, &problems) {
		return c.Redirect(http.StatusSeeOther, recheck)
	}
	if err != nil {
		return err
	}
	h.logFor(c).Info("sub-tenant created", "parent", p.parent.ID, "tenant", t.ID, "by", rs.user.ID)
	h.flash(c, "success", t.Name+" is active at "+h.cfg.TenantURL(t.Subdomain, "/")+". An invitation to own it was emailed to "+
		models.NormalizeEmail(n.Email)+"; they become its owner when they accept.")
	return c.Redirect(http.StatusSeeOther, p.list)
}

// subTenantParam is the way down to the sub-tenant named by the :id in the
// URL, which must be below the tenant whose host this is, at any depth; the
// store decides (SubTenantPath), and anything else is a 404.
func (h *Handlers) subTenantParam(c echo.Context) (models.TreePath, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return h.store.SubTenantPath(c.Request().Context(), stateOf(c).tenant.ID, id)
}

// subTenantFrame is what every tab of the details page shows about the
// tenant the path leads to.
func (h *Handlers) subTenantFrame(c echo.Context, path models.TreePath, tab string) pages.SubTenantFrame {
	host, child := stateOf(c).tenant, path.Target()
	return pages.SubTenantFrame{Tenant: child, Path: path, Tab: tab, URL: h.cfg.TenantURL(child.Subdomain, "/"), Labels: pages.SubTenantLabelsFor(host),
		SetsOwner: host.IsPlatform(), Billing: host.IsPlatform()}
}

// subTenantDetails opens a sub-tenant on its first tab.
func (h *Handlers) subTenantDetails(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(path.Target().ID, "devices"))
}

// subTenantUsers is the Users tab: the child's members and invitations.
func (h *Handlers) subTenantUsers(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	q := strings.TrimSpace(c.QueryParam("q"))
	page, err := h.store.Team(c.Request().Context(), child.ID, q, models.ParsePage(c.QueryParam("page"), models.TeamPageSize))
	if err != nil {
		return err
	}
	frame := h.subTenantFrame(c, path, "users")
	return h.render(c, http.StatusOK, pages.SubTenantUsers(h.shell(c, child.Name, "sub-tenants"), frame, page, q))
}

// inviteSubTenantUserForm is + Invite User: any of the four roles, since the
// parent's Super Admin outranks everyone in the child.
func (h *Handlers) inviteSubTenantUserForm(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	return h.renderInviteSubTenantUser(c, path, http.StatusOK, pages.MemberForm{Role: string(models.RoleViewer)})
}

func (h *Handlers) renderInviteSubTenantUser(c echo.Context, path models.TreePath, status int, form pages.MemberForm) error {
	form.Assignable = models.AssignableRoles(models.RoleSuperAdmin)
	return h.render(c, status, pages.InviteSubTenantUser(h.shell(c, "Invite User", "sub-tenants"), h.subTenantFrame(c, path, "users"), form))
}

func (h *Handlers) inviteSubTenantUser(c echo.Context) error {
	rs := stateOf(c)
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	form := pages.MemberForm{FirstName: c.FormValue("first_name"), LastName: c.FormValue("last_name"), Email: c.FormValue("email"), Role: c.FormValue("role")}
	req := models.InviteRequest{
		TenantID: child.ID, InviterID: rs.user.ID, InviterRole: models.RoleSuperAdmin,
		Email: form.Email, FirstName: form.FirstName, LastName: form.LastName, Role: models.Role(form.Role),
	}
	outcome, err := h.store.Invite(c.Request().Context(), req, h.invitationMail(rs.user))
	if fieldErrors(err, &form.Errors) {
		return h.renderInviteSubTenantUser(c, path, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	email := models.NormalizeEmail(form.Email)
	if outcome == models.AddedAtOnce {
		h.flash(c, "success", email+" already has a Canopy account and is now a member of "+child.Name+".")
	} else {
		h.flash(c, "success", "Invitation sent to "+email+".")
	}
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "users"))
}

// subTenantSettings is the Settings tab.
func (h *Handlers) subTenantSettings(c echo.Context) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	chosen, err := h.store.SolutionsOf(c.Request().Context(), child.ID)
	if err != nil {
		return err
	}
	form := pages.SubTenantSettingsForm{Chosen: chosen, SSOInherit: child.SSOInherit, Timezone: child.Timezone}
	return h.renderSubTenantSettings(c, path, http.StatusOK, form)
}

// renderSubTenantSettings shows the Settings tab; the solutions offered are
// those of the tenant's own parent, the only ones it can be given.
func (h *Handlers) renderSubTenantSettings(c echo.Context, path models.TreePath, status int, form pages.SubTenantSettingsForm) error {
	parent := path.Parent()
	available, err := h.store.SolutionsOf(c.Request().Context(), parent.ID)
	if err != nil {
		return err
	}
	form.Available, form.ParentName = available, parent.Name
	// The single sign-on in force there now, as saved: its whole lineage
	// decides, up to the platform.
	lineage, err := h.store.LineageByID(c.Request().Context(), path.Target().ID)
	if err != nil {
		return err
	}
	if form.SSO, err = h.ssoSummary(c.Request().Context(), lineage); err != nil {
		return err
	}
	return h.render(c, status, pages.SubTenantSettings(h.shell(c, path.Target().Name, "sub-tenants"), h.subTenantFrame(c, path, "settings"), form))
}

// saveSubTenantSettings changes solutions, SSO inheritance and timezone.
// Whatever else a crafted form carries (name, subdomain…) is never read.
func (h *Handlers) saveSubTenantSettings(c echo.Context) error {
	rs := stateOf(c)
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	if err := c.Request().ParseForm(); err != nil {
		return err
	}
	set := models.SubTenantSettings{
		Solutions:  models.ParseSolutions(c.Request().Form["solutions"]),
		SSOInherit: c.FormValue("sso_inherit") == "on",
		Timezone:   c.FormValue("timezone"),
	}
	err = h.store.SaveSubTenantSettings(c.Request().Context(), rs.tenant.ID, child.ID, set)
	form := pages.SubTenantSettingsForm{Chosen: set.Solutions, SSOInherit: set.SSOInherit, Timezone: set.Timezone}
	if fieldErrors(err, &form.Errors) {
		return h.renderSubTenantSettings(c, path, http.StatusUnprocessableEntity, form)
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Settings saved for "+child.Name+".")
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "settings"))
}

// subTenantTabs are the tabs of a sub-tenant's details page.
var subTenantTabs = []string{"devices", "users", "sub-tenants", "settings", "billing"}

// setSubTenantStatus activates or deactivates a sub-tenant, from the header
// every tab shows, and returns to the tab it was done from.
func (h *Handlers) setSubTenantStatus(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	child, err := h.store.SetSubTenantStatus(c.Request().Context(), rs.tenant.ID, id, models.TenantStatus(c.FormValue("status")))
	if err != nil {
		return err
	}
	if child.Active() {
		h.flash(c, "success", child.Name+" is active again; its members can enter it, and the tenants below it that are active themselves.")
	} else {
		h.flash(c, "success", child.Name+" is now inactive; its members cannot enter it, nor any tenant below it. Nothing was deleted.")
	}
	tab := c.FormValue("tab")
	if !slices.Contains(subTenantTabs, tab) || (tab == "billing" && !rs.tenant.IsPlatform()) {
		tab = "settings"
	}
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, tab))
}

// setCompanyOwner is platform staff's repair (Make owner on a company's
// Users tab): one of the company's members becomes its owner and Super
// Admin, for data from before the database held owners to that rule.
func (h *Handlers) setCompanyOwner(c echo.Context) error {
	rs := stateOf(c)
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	membershipID, err := paramID(c, "membershipID")
	if err != nil {
		return err
	}
	owner, err := h.store.SetCompanyOwner(c.Request().Context(), rs.tenant.ID, child.ID, membershipID)
	if err != nil {
		return err
	}
	h.flash(c, "success", owner.Email+" now owns "+child.Name+" and is its Super Admin.")
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "users"))
}

// resendSubTenantInvitation sends a sub-tenant's pending invitation again
// (its owner's included) with a fresh link.
func (h *Handlers) resendSubTenantInvitation(c echo.Context) error {
	return h.changeSubTenantInvitation(c, invitationResent, func(childID, invitationID int64) error {
		return h.store.ResendInvitation(c.Request().Context(), childID, invitationID, models.RoleSuperAdmin, h.invitationMail(stateOf(c).user))
	})
}

// revokeSubTenantInvitation withdraws a sub-tenant's pending invitation.
func (h *Handlers) revokeSubTenantInvitation(c echo.Context) error {
	return h.changeSubTenantInvitation(c, "Invitation revoked. Its link no longer works.", func(childID, invitationID int64) error {
		return h.store.RevokeInvitation(c.Request().Context(), childID, invitationID, models.RoleSuperAdmin)
	})
}

func (h *Handlers) changeSubTenantInvitation(c echo.Context, done string, change func(childID, invitationID int64) error) error {
	path, err := h.subTenantParam(c)
	if err != nil {
		return err
	}
	child := path.Target()
	invitationID, err := paramID(c, "invitationID")
	if err != nil {
		return err
	}
	if err := change(child.ID, invitationID); err != nil {
		return err
	}
	h.flash(c, "success", done)
	return c.Redirect(http.StatusSeeOther, views.SubTenantPath(child.ID, "users"))
}
