package handlers

import (
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
		Page: list, Query: url.Values{}, Location: rs.tenant.Location(),
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
	data := pages.TemplateDetailsData{Template: tpl, Location: rs.tenant.Location()}
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
	form := pages.TemplateForm{BrandingCompanyName: rs.tenant.Name, BrandColor: models.DefaultBrandColor}
	return h.render(c, http.StatusOK, pages.NewTemplate(h.shell(c, "New template", "templates"), form))
}

// createTemplate saves a new template, or shows the form again with the
// problems beside the fields and what was typed kept.
func (h *Handlers) createTemplate(c echo.Context) error {
	rs := stateOf(c)
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	in := models.NewTemplate{
		Name:                form.Get("name"),
		BrandingCompanyName: form.Get("branding_company_name"),
		BrandColor:          form.Get("brand_color"),
		Collects:            form["collects"],
	}
	tpl, err := h.store.CreateTemplate(c.Request().Context(), rs.tenant.ID, rs.user.ID, in)
	refused := pages.TemplateForm{Name: in.Name, BrandingCompanyName: in.BrandingCompanyName, BrandColor: in.BrandColor, Collects: form["collects"]}
	if fieldErrors(err, &refused.Errors) {
		return h.render(c, http.StatusUnprocessableEntity, pages.NewTemplate(h.shell(c, "New template", "templates"), refused))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Template “"+tpl.Name+"” created.")
	return c.Redirect(http.StatusSeeOther, views.TemplatesPath)
}
