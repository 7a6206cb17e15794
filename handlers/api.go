package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
)

// apiPrefix is where the JSON API lives, on each company's own host.
const apiPrefix = "/api/v1"

// isAPIRequest tells whether a request is for the JSON API, whose every
// answer, errors included, is JSON and never a page.
func isAPIRequest(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == apiPrefix || strings.HasPrefix(p, apiPrefix+"/")
}

// apiRoute registers a route of the JSON API that an API key of the host's
// company holding scope may call. In front of the handler, in order:
// loadAPIKey (session.go: the key, the database scope, the audit actor),
// limitAPIRate, requireAPIScope and, for POSTs, idempotent.
func (h *Handlers) apiRoute(g *echo.Group, method, path string, scope models.APIScope, fn echo.HandlerFunc) {
	h.access[method+" "+apiPrefix+path] = accessRule{apiScope: scope}
	chain := []echo.MiddlewareFunc{h.loadAPIKey, h.limitAPIRate, requireAPIScope(scope)}
	if method == http.MethodPost {
		chain = append(chain, h.idempotent)
	}
	g.Add(method, path, func(c echo.Context) error {
		if err := fn(c); err != nil {
			return asAPIError(err)
		}
		return nil
	}, chain...)
}

// apiPublicRoute registers a route of the API that needs no key (its
// OpenAPI document).
func (h *Handlers) apiPublicRoute(g *echo.Group, method, path string, fn echo.HandlerFunc) {
	h.access[method+" "+apiPrefix+path] = accessRule{public: true}
	g.Add(method, path, fn)
}

// apiNotFound answers a path of the API no route has: 405, with Allow,
// when the path exists for other methods (Echo would answer 404 from the
// group's catch-all, which wins over its own 405), else 404.
func (h *Handlers) apiNotFound(c echo.Context) error {
	var allow []string
	for route := range h.access {
		method, pattern, _ := strings.Cut(route, " ")
		if pathMatches(pattern, c.Request().URL.Path) && !slices.Contains(allow, method) {
			allow = append(allow, method)
		}
	}
	if len(allow) == 0 {
		return errAPINotFound
	}
	slices.Sort(allow)
	c.Response().Header().Set(echo.HeaderAllow, strings.Join(allow, ", "))
	return apiErrorForStatus(http.StatusMethodNotAllowed, "")
}

// pathMatches tells whether path is one of pattern's, where a :name
// segment stands for any one segment.
func pathMatches(pattern, path string) bool {
	want, got := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		if strings.HasPrefix(w, ":") && got[i] != "" {
			continue
		}
		if w != got[i] {
			return false
		}
	}
	return true
}

// apiError is an error of the API as its client sees it:
// {"error": {"code", "message", "param", "errors"}} with status. Code is
// stable, for programs; message is for people.
type apiError struct {
	status  int
	code    string
	message string
	param   string
	fields  models.FieldErrors // every field's problem, for a 422
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// The API's refusals that do not come from the models package.
var (
	errAPIKeyInvalid = &apiError{status: http.StatusUnauthorized, code: "invalid_api_key",
		message: "Send a valid API key of this company as \"Authorization: Bearer <key>\"."}
	errAPINotFound = &apiError{status: http.StatusNotFound, code: "not_found",
		message: "There is no such resource here."}
	errAPICompanyInactive = &apiError{status: http.StatusForbidden, code: "company_inactive",
		message: "This company, or one above it, is inactive: its API is closed until it is active again."}
	errAPISandboxOnly = &apiError{status: http.StatusForbidden, code: "sandbox_only",
		message: "Simulating status changes is for sandbox keys and test orders only."}
)

// apiModelErrors is how each refusal of the models package reads in the
// API. The first match wins.
var apiModelErrors = []struct {
	err error
	api apiError
}{
	{models.ErrNotFound, *errAPINotFound},
	{models.ErrOrderTransition, apiError{status: http.StatusConflict, code: "invalid_transition",
		message: "The order cannot move to that status from where it is: pending → in_progress → completed, or to cancelled before it is completed; completed and cancelled are final."}},
	{models.ErrOrderNotTest, apiError{status: http.StatusConflict, code: "not_test_order",
		message: "Only test orders, made with a sandbox key, can be simulated."}},
	{models.ErrDeviceDeprovisioned, apiError{status: http.StatusConflict, code: "device_deprovisioned",
		message: "The device is deprovisioned; deprovisioning is final."}},
	{models.ErrChangedMeanwhile, apiError{status: http.StatusConflict, code: "conflict",
		message: "Someone else changed this at the same moment; nothing was changed. Try again."}},
	{models.ErrIdempotencyKeyReused, apiError{status: http.StatusUnprocessableEntity, code: "idempotency_key_reused",
		message: "This Idempotency-Key was already used with a different request. Use a new key for a new request.", param: "Idempotency-Key"}},
	{models.ErrIdempotencyKeyInUse, apiError{status: http.StatusConflict, code: "idempotency_key_in_use",
		message: "A request with this Idempotency-Key is still being processed. Retry in a moment.", param: "Idempotency-Key"}},
	{models.ErrTryAgain, apiError{status: http.StatusServiceUnavailable, code: "try_again",
		message: "The database was busy with a change made at the same moment; nothing was changed. Try again."}},
}

// asAPIError is err as the API answers it; an error it does not know is
// returned as it is, a server error.
func asAPIError(err error) error {
	var ae *apiError
	var fe models.FieldErrors
	var pe *pageError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe):
		return fieldsError(fe)
	}
	for _, known := range apiModelErrors {
		if errors.Is(err, known.err) {
			e := known.api
			return &e
		}
	}
	switch {
	case errors.As(err, &pe):
		return apiErrorForStatus(pe.status, pe.message)
	case errors.As(err, &he):
		msg, _ := he.Message.(string)
		return apiErrorForStatus(he.Code, msg)
	}
	return err
}

// fieldsError is a 422 naming the first field in error (by name, so the
// answer is the same every time) and listing all of them.
func fieldsError(fe models.FieldErrors) *apiError {
	params := make([]string, 0, len(fe))
	for p := range fe {
		params = append(params, p)
	}
	slices.Sort(params)
	first := ""
	if len(params) > 0 {
		first = params[0]
	}
	return &apiError{status: http.StatusUnprocessableEntity, code: "validation_failed", message: fe[first], param: first, fields: fe}
}

// apiErrorForStatus is the API's answer for a status Echo or a page gave.
func apiErrorForStatus(status int, message string) *apiError {
	codes := map[int]string{
		http.StatusBadRequest: "bad_request", http.StatusUnauthorized: "invalid_api_key", http.StatusForbidden: "forbidden",
		http.StatusNotFound: "not_found", http.StatusMethodNotAllowed: "method_not_allowed", http.StatusConflict: "conflict",
		http.StatusRequestEntityTooLarge: "request_too_large", http.StatusUnprocessableEntity: "validation_failed",
		http.StatusTooManyRequests: "rate_limited", http.StatusServiceUnavailable: "try_again",
	}
	code, ok := codes[status]
	if !ok {
		if status >= 500 {
			return &apiError{status: http.StatusInternalServerError, code: "internal_error",
				message: "Something went wrong on our side. It has been logged; try again in a moment."}
		}
		code = "bad_request"
	}
	switch {
	case status == http.StatusNotFound:
		message = errAPINotFound.message
	case status == http.StatusMethodNotAllowed:
		message = "This resource does not accept that method."
	case status == http.StatusRequestEntityTooLarge:
		message = "The request body is too large."
	case message == "":
		message = http.StatusText(status)
	}
	return &apiError{status: status, code: code, message: message}
}

// handleAPIError answers err as JSON: what asAPIError knows as itself,
// anything else as a logged 500 that shows no internals.
func (h *Handlers) handleAPIError(err error, c echo.Context) {
	var ae *apiError
	if models.IsDatabaseUnavailable(err) {
		h.logFor(c).Warn("database unavailable", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		c.Response().Header().Set("Retry-After", databaseRetryAfter)
		ae = &apiError{status: http.StatusServiceUnavailable, code: "database_unavailable",
			message: "Canopy can't reach its database right now. Retry after the time Retry-After gives."}
	} else if !errors.As(asAPIError(err), &ae) {
		h.logFor(c).Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		ae = apiErrorForStatus(http.StatusInternalServerError, "")
	}
	if ae.status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="Canopy API"`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.status)
		return
	}
	_ = c.JSON(ae.status, ae.body())
}

type apiErrorBody struct {
	Error apiErrorDetail `json:"error"`
}

type apiErrorDetail struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Param   string          `json:"param,omitempty"`
	Errors  []apiFieldError `json:"errors,omitempty"`
}

type apiFieldError struct {
	Param   string `json:"param"`
	Message string `json:"message"`
}

func (e *apiError) body() apiErrorBody {
	b := apiErrorBody{Error: apiErrorDetail{Code: e.code, Message: e.message, Param: e.param}}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range e.fields {
			if !yield(p) {
				return
			}
		}
	}) {
		b.Error.Errors = append(b.Error.Errors, apiFieldError{Param: p, Message: e.fields[p]})
	}
	return b
}

// requireAPIScope refuses a key that was not given scope.
func requireAPIScope(scope models.APIScope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !stateOf(c).apiKey.Allows(scope) {
				return &apiError{status: http.StatusForbidden, code: "insufficient_scope",
					message: "This API key does not have the " + string(scope) + " scope. Create a key with it in Developers → API keys."}
			}
			return next(c)
		}
	}
}

// maxIdempotencyKeyLength is the longest Idempotency-Key kept.
const maxIdempotencyKeyLength = 255

// idempotent makes a POST carrying an Idempotency-Key happen once: its
// answer is kept for models.IdempotencyKeyTTL, and a repeat with the same
// method, path and body gets that answer again (with Idempotent-Replayed:
// true) without running; a repeat with anything different is refused.
// A POST without the header runs as it is.
func (h *Handlers) idempotent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ikey := c.Request().Header.Get("Idempotency-Key")
		if ikey == "" {
			return next(c)
		}
		if len(ikey) > maxIdempotencyKeyLength || !printableASCII(ikey) {
			return &apiError{status: http.StatusBadRequest, code: "invalid_param", param: "Idempotency-Key",
				message: fmt.Sprintf("Use an Idempotency-Key of at most %d printable ASCII characters, e.g. a UUID.", maxIdempotencyKeyLength)}
		}
		body, err := readBody(c.Request())
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(c.Request().Method + "\n" + c.Request().URL.RequestURI() + "\n" + string(body)))
		ctx, rs := c.Request().Context(), stateOf(c)
		tenantID, keyID := rs.apiKey.TenantID, rs.apiKey.ID
		kept, err := h.store.ReserveIdempotencyKey(ctx, tenantID, keyID, ikey, hex.EncodeToString(sum[:]))
		if err != nil {
			return err
		}
		if kept != nil {
			c.Response().Header().Set("Idempotent-Replayed", "true")
			return c.Blob(kept.Status, echo.MIMEApplicationJSON, []byte(kept.Body))
		}
		// On SQLite the reservation is already committed: a panic below
		// must not leave it held for a day.
		defer func() {
			if p := recover(); p != nil {
				if rerr := h.store.ReleaseIdempotencyKey(ctx, tenantID, keyID, ikey); rerr != nil {
					h.logFor(c).Warn("release idempotency key", "err", rerr)
				}
				panic(p)
			}
		}()
		rec := &recordedResponse{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rec
		err = next(c)
		if err != nil && apiStatusOf(err) < http.StatusInternalServerError {
			c.Error(err) // answered now, so the answer can be kept
			err = nil
		}
		c.Response().Writer = rec.ResponseWriter
		if err != nil || rec.status >= http.StatusInternalServerError {
			// Nothing is kept of a server error: a retry runs afresh.
			if rerr := h.store.ReleaseIdempotencyKey(ctx, tenantID, keyID, ikey); rerr != nil {
				h.logFor(c).Warn("release idempotency key", "err", rerr)
			}
			return err
		}
		return h.store.SaveIdempotentResponse(ctx, tenantID, keyID, ikey, models.IdempotentResponse{Status: rec.status, Body: rec.body.String()})
	}
}

// printableASCII tells whether s holds only printable ASCII: what a
// header value kept in the database may hold (PostgreSQL refuses invalid
// UTF-8, and other bytes have no use in an Idempotency-Key).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// apiStatusOf is the status the API answers err with.
func apiStatusOf(err error) int {
	var ae *apiError
	if errors.As(asAPIError(err), &ae) {
		return ae.status
	}
	return http.StatusInternalServerError
}

// recordedResponse passes a response on and keeps a copy of it.
type recordedResponse struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recordedResponse) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *recordedResponse) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// decodeJSON reads the request's JSON object into dst: anything else, or a
// field dst does not have, is a 400 naming what is wrong.
func decodeJSON(c echo.Context, dst any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return unreadableBody(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(dst)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return &apiError{status: http.StatusBadRequest, code: "invalid_param", param: typeErr.Field,
			message: fmt.Sprintf("%s must be a JSON %s.", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &apiError{status: http.StatusBadRequest, code: "unknown_param", param: field,
			message: "This resource has no field " + field + "."}
	}
	return &apiError{status: http.StatusBadRequest, code: "invalid_json",
		message: "The request body must be one JSON object: " + err.Error() + "."}
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "number"
	case kind == "bool":
		return "boolean"
	}
	return kind
}

// badParam is a 400 for a query or path parameter.
func badParam(param, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_param", param: param, message: message}
}

// apiID is the {id} of the path: an id that is not a positive number names
// nothing, a 404 like an unknown one.
func apiID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errAPINotFound
	}
	return id, nil
}

// apiListRequest reads limit and the cursor (starting_after, or cursor:
// the next_cursor of the page before, which is the id of its last object).
func apiListRequest(c echo.Context) (models.APIListRequest, error) {
	r := models.APIListRequest{Limit: models.APIDefaultLimit}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > models.APIMaxLimit {
			return r, badParam("limit", fmt.Sprintf("limit is a number from 1 to %d.", models.APIMaxLimit))
		}
		r.Limit = n
	}
	for _, param := range []string{"starting_after", "cursor"} {
		raw := c.QueryParam(param)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			return r, badParam(param, param+" is the next_cursor of the page before (the id of its last object).")
		}
		r.After = n
	}
	return r, nil
}

// apiList is a page of a list as the API answers it.
type apiList[T any] struct {
	Object     string  `json:"object"`
	Data       []T     `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// listOf makes a page of rows into the API's list, with the cursor of the
// next page when there is one.
func listOf[R, T any](page models.APIPage[R], view func(R) T, id func(R) int64) apiList[T] {
	out := apiList[T]{Object: "list", Data: make([]T, 0, len(page.Items)), HasMore: page.HasMore}
	for _, r := range page.Items {
		out.Data = append(out.Data, view(r))
	}
	if page.HasMore && len(page.Items) > 0 {
		next := strconv.FormatInt(id(page.Items[len(page.Items)-1]), 10)
		out.NextCursor = &next
	}
	return out
}

// apiTime is a time as the API writes it: RFC 3339 in UTC.
func apiTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func apiTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := apiTime(*t)
	return &s
}

// optional is "" as JSON's null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
