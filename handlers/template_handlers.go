package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"canopy/models"
	"canopy/views"
	"canopy/views/pages"
)

// templatesPageSize is how many templates one page of the list shows.
const templatesPageSize = 25

// templatesIndex lists the company's templates.
func (h *Handlers) templatesIndex(c echo.Context) error {
	rs := stateOf(c)
	page := models.ParsePage(c.QueryParam("page"), templatesPageSize)
	list, err := h.store.ListTemplates(c.Request().Context(), rs.tenant.ID, page)
	if err != nil {
		return err
	}
	if last := lastPage(list.Total, page.Size); page.Number > last {
		return c.Redirect(http.StatusSeeOther, views.TemplatesPath+"?page="+strconv.Itoa(last))
	}
	return h.render(c, http.StatusOK, pages.Templates(h.shell(c, "Templates", "templates"), pages.TemplatesData{
		Page: list, Query: url.Values{},
	}))
}

// templateDetails is one template's page: its branding as applicants see
// it, the data it collects, who created it and how many orders use it. The
// Create order button is there for those who may order from it.
func (h *Handlers) templateDetails(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tpl, err := h.store.TemplateByID(ctx, rs.tenant.ID, id)
	if err != nil {
		return err
	}
	data := pages.TemplateDetailsData{Template: tpl}
	if rs.membership.Role.Can(models.PermEdit) {
		if data.CanOrder, err = h.store.MayOrderFrom(ctx, rs.tenant.ID, rs.membership.ID, id); err != nil {
			return err
		}
	}
	return h.render(c, http.StatusOK, pages.TemplateDetails(h.shell(c, tpl.Name, "templates"), data))
}

// newTemplate shows the New template form. The branding company name starts
// as the company's own name, which is what most templates want.
func (h *Handlers) newTemplate(c echo.Context) error {
	rs := stateOf(c)
	form := pages.TemplateForm{BrandingCompanyName: rs.tenant.Name, BrandColor: models.DefaultBrandColor, Category: string(models.CategoryStandard)}
	return h.render(c, http.StatusOK, pages.NewTemplate(h.shell(c, "New template", "templates"), form))
}

// createTemplate saves a new template, or shows the form again with the
// problems beside the fields and what was typed kept.
func (h *Handlers) createTemplate(c echo.Context) error {
	rs := stateOf(c)
	in, typed, err := templateInput(c)
	if err != nil {
		return err
	}
	if !rs.membership.Role.Can(models.PermManageSettings) {
		in.Category, typed.Category = models.CategoryStandard, string(models.CategoryStandard)
	}
	tpl, err := h.store.CreateTemplate(c.Request().Context(), rs.tenant.ID, rs.user.ID, in)
	if fieldErrors(err, &typed.Errors) {
		return h.render(c, http.StatusUnprocessableEntity, pages.NewTemplate(h.shell(c, "New template", "templates"), typed))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Template “"+tpl.Name+"” created.")
	return c.Redirect(http.StatusSeeOther, views.TemplatesPath)
}

// templateInput reads the New or Edit template form: what to save, and the
// form as typed, to show again when something is wrong.
func templateInput(c echo.Context) (models.NewTemplate, pages.TemplateForm, error) {
	form, err := c.FormParams()
	if err != nil {
		return models.NewTemplate{}, pages.TemplateForm{}, err
	}
	in := models.NewTemplate{
		Name:                form.Get("name"),
		BrandingCompanyName: form.Get("branding_company_name"),
		BrandColor:          form.Get("brand_color"),
		Collects:            form["collects"],
		Category:            models.TemplateCategory(form.Get("category")),
	}
	typed := pages.TemplateForm{Name: in.Name, BrandingCompanyName: in.BrandingCompanyName, BrandColor: in.BrandColor, Collects: form["collects"],
		Category: form.Get("category")}
	return in, typed, nil
}

// editTemplate shows the Edit template form, filled in with the template
// as it is.
func (h *Handlers) editTemplate(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tpl, err := h.store.TemplateByID(c.Request().Context(), rs.tenant.ID, id)
	if err != nil {
		return err
	}
	form := pages.TemplateForm{ID: tpl.ID, Name: tpl.Name, BrandingCompanyName: tpl.BrandingCompanyName, BrandColor: tpl.BrandColor, Collects: tpl.CollectKeys(),
		Category: string(tpl.Category)}
	return h.render(c, http.StatusOK, pages.EditTemplate(h.shell(c, "Edit "+tpl.Name, "templates"), form))
}

// updateTemplate saves the Edit template form and returns to the template's
// page, or shows the form again with the problems beside the fields.
func (h *Handlers) updateTemplate(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	in, typed, err := templateInput(c)
	if err != nil {
		return err
	}
	if !rs.membership.Role.Can(models.PermManageSettings) {
		// The category decides the price: the company's Admins choose it.
		was, err := h.store.TemplateByID(c.Request().Context(), rs.tenant.ID, id)
		if err != nil {
			return err
		}
		in.Category, typed.Category = was.Category, string(was.Category)
	}
	tpl, err := h.store.UpdateTemplate(c.Request().Context(), rs.tenant.ID, id, in)
	if fieldErrors(err, &typed.Errors) {
		typed.ID = id
		return h.render(c, http.StatusUnprocessableEntity, pages.EditTemplate(h.shell(c, "Edit template", "templates"), typed))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Template “"+tpl.Name+"” saved.")
	return c.Redirect(http.StatusSeeOther, views.TemplatePath(tpl.ID))
}

// deleteTemplate deletes a template nothing keeps and returns to the list.
// One that orders or members still need stays, and its page says why.
func (h *Handlers) deleteTemplate(c echo.Context) error {
	rs := stateOf(c)
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tpl, err := h.store.DeleteTemplate(c.Request().Context(), rs.tenant.ID, id)
	var kept *models.TemplateInUseError
	if errors.As(err, &kept) {
		h.flash(c, "error", "“"+kept.Name+"” was not deleted. "+pages.TemplateKept(kept.Use))
		return c.Redirect(http.StatusSeeOther, views.TemplatePath(id))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Template “"+tpl.Name+"” deleted.")
	return c.Redirect(http.StatusSeeOther, views.TemplatesPath)
}
