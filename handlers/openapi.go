package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// OpenAPIDocument describes the JSON API in OpenAPI 3.1. It is checked in
// beside the routes; a test holds the two to each other (every route
// described, every described path a route).
//
//go:embed openapi.json
var OpenAPIDocument []byte

// openAPIDocument serves the API's description, to anyone: it holds no
// company's data.
func (h *Handlers) openAPIDocument(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, OpenAPIDocument)
}
