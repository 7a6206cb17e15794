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
