package devidp

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/oauth2-proxy/mockoidc"
)

// The login form's own fields carry this prefix, so that none can be taken
// for one of the authorization request's parameters, which travel beside
// them in hidden fields.
const (
	fieldPrefix   = "devidp_"
	fieldEmail    = fieldPrefix + "email"
	fieldName     = fieldPrefix + "name"
	fieldVerified = fieldPrefix + "email_verified"
	fieldAction   = fieldPrefix + "action"
	actionSignIn  = "sign_in"
	actionDeny    = "deny"
)

// The person the login page offers when the relying party gives no hint:
// the demo data's owner of Acme Corp.
const (
	defaultEmail = "alice@acme.test"
	defaultName  = "Alice Anderson"
)

// authorize is the authorization endpoint. A request with a bad client_id
// or redirect_uri gets a plain error page, never a redirect; one with other
// bad parameters is sent back with the OAuth error. Otherwise the login
// form's answer, else the next queued SignInNext or DenyNext, else the
// login page decides. The caller holds mu.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, next http.Handler) {
	params := url.Values{}
	for k, v := range r.Form {
		if !strings.HasPrefix(k, fieldPrefix) {
			params[k] = v
		}
	}
	if problem := s.checkClient(params); problem != "" {
		errorPage(w, problem)
		return
	}
	if code, description := checkRequest(params); code != "" {
		redirectError(w, r, params, code, description)
		return
	}
	if r.Method == http.MethodPost && r.PostForm.Has(fieldAction) {
		switch r.PostForm.Get(fieldAction) {
		case actionDeny:
			s.deny(w, r, params, "The person chose Deny at the development identity provider.")
		case actionSignIn:
			p, problem := personFromForm(r.PostForm)
			if problem != "" {
				loginPage(w, http.StatusUnprocessableEntity, s.ClientID(), params, p, problem)
				return
			}
			s.signIn(w, r, params, p, next)
		default:
			errorPage(w, "The login form was sent with an unknown action.")
		}
		return
	}
	if len(s.next) > 0 {
		a := s.next[0]
		s.next = s.next[1:]
		if a.deny {
			s.deny(w, r, params, "Denied by DenyNext.")
		} else {
			s.signIn(w, r, params, a.person, next)
		}
		return
	}
	p := Person{Email: defaultEmail, Name: defaultName, EmailVerified: true}
	if hint := params.Get("login_hint"); validEmail(hint) && hint != defaultEmail {
		p = Person{Email: hint, EmailVerified: true}
	}
	loginPage(w, http.StatusOK, s.ClientID(), params, p, "")
}

// checkClient says what is wrong with the client_id and redirect_uri, or
// "". Until both are good nothing may be sent to the redirect_uri.
func (s *Server) checkClient(params url.Values) string {
	switch id := params.Get("client_id"); {
	case id == "":
		return "The authorization request has no client_id."
	case id != s.ClientID():
		return fmt.Sprintf("The authorization request's client_id %q is not the one this provider knows (%q).", id, s.ClientID())
	}
	raw := params.Get("redirect_uri")
	if raw == "" {
		return "The authorization request has no redirect_uri."
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("The authorization request's redirect_uri %q is not an absolute http or https URL without a fragment.", raw)
	}
	return ""
}

// checkRequest returns the OAuth error code and description for an
// authorization request mockoidc would refuse, or PKCE other than S256,
// before the login page is shown rather than after it is filled in.
func checkRequest(params url.Values) (code, description string) {
	if params.Get("response_type") != "code" {
		return "unsupported_response_type", "only response_type=code is supported"
	}
	// Scopes are separated by single spaces (RFC 6749 3.3), as mockoidc
	// splits them.
	scopes := strings.Split(params.Get("scope"), " ")
	if !slices.Contains(scopes, "openid") {
		return "invalid_scope", "the scope must include openid"
	}
	for _, scope := range scopes {
		if !slices.Contains(scopesSupported, scope) {
			return "invalid_scope", fmt.Sprintf("unsupported scope: %q", scope)
		}
	}
	if params.Get("state") == "" {
		return "invalid_request", "state is required"
	}
	challenge, method := params.Get("code_challenge"), params.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return "invalid_request", "code_challenge_method without code_challenge"
	case challenge != "" && method != mockoidc.CodeChallengeMethodS256:
		return "invalid_request", "code_challenge_method must be S256"
	}
	return "", ""
}

// personFromForm reads the login form; the problem, when there is one, is
// the email's.
func personFromForm(form url.Values) (Person, string) {
	p := Person{
		Email:         strings.TrimSpace(form.Get(fieldEmail)),
		Name:          strings.Join(strings.Fields(form.Get(fieldName)), " "),
		EmailVerified: form.Get(fieldVerified) != "",
	}
	switch {
	case p.Email == "":
		return p, "Enter an email address."
	case !validEmail(p.Email):
		return p, "Enter an email address such as alice@acme.test."
	case len(p.Name) > 200:
		return p, "The name is longer than 200 characters."
	}
	return p, ""
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

type hiddenField struct{ Name, Value string }

type loginData struct {
	ClientID    string
	RedirectURI string
	Action      string
	Hidden      []hiddenField
	Person      Person
	Problem     string
	Fields      map[string]string
}

func loginPage(w http.ResponseWriter, status int, clientID string, params url.Values, p Person, problem string) {
	d := loginData{
		ClientID:    clientID,
		RedirectURI: params.Get("redirect_uri"),
		Action:      mockoidc.AuthorizationEndpoint,
		Person:      p,
		Problem:     problem,
		Fields: map[string]string{
			"Email": fieldEmail, "Name": fieldName, "Verified": fieldVerified, "Action": fieldAction,
			"SignIn": actionSignIn, "Deny": actionDeny,
		},
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			d.Hidden = append(d.Hidden, hiddenField{k, v})
		}
	}
	render(w, status, "login", d)
}

func errorPage(w http.ResponseWriter, message string) {
	render(w, http.StatusBadRequest, "error", message)
}

// render writes a page whole or, when the template fails, a plain error:
// never half a page.
func render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "devidp: page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// No form-action: the form's answer redirects to the relying party,
	// which form-action would block in some browsers.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Canopy development identity provider</title>
<style>
:root { color-scheme: light dark; --fg: #1c2430; --muted: #5a6472; --bg: #f4f6f8; --card: #fff; --line: #d5dae1; --accent: #1d6b4f; --warn-bg: #fff4d6; --warn-fg: #5c4300; --error: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ee; --muted: #a3acb9; --bg: #12161c; --card: #1b2129; --line: #343c48; --accent: #5fc49b; --warn-bg: #3a3016; --warn-fg: #f3dc9a; --error: #f2978f; } }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 1.5rem; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { width: 100%; max-width: 26rem; background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.75rem; }
h1 { margin: 0 0 1rem; font-size: 1.25rem; line-height: 1.3; }
.notice { margin: 0 0 1rem; padding: .75rem .9rem; border-radius: 8px; background: var(--warn-bg); color: var(--warn-fg); font-size: .9rem; }
.client { margin: 0 0 1.25rem; color: var(--muted); font-size: .9rem; overflow-wrap: anywhere; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85em; }
.field { margin-bottom: 1rem; }
.field label { display: block; margin-bottom: .3rem; font-weight: 600; font-size: .95rem; }
input[type=email], input[type=text] { width: 100%; padding: .55rem .7rem; font: inherit; color: inherit; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
input:focus-visible, button:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
input[aria-invalid=true] { border-color: var(--error); }
.problem { margin: .35rem 0 0; color: var(--error); font-size: .9rem; }
.check { display: flex; gap: .5rem; align-items: center; margin-bottom: 1.5rem; }
.check input { width: 1.1rem; height: 1.1rem; margin: 0; accent-color: var(--accent); }
.actions { display: flex; gap: .75rem; }
button { flex: 1; padding: .6rem 1rem; font: inherit; font-weight: 600; border-radius: 8px; cursor: pointer; border: 1px solid var(--accent); }
.primary { background: var(--accent); color: var(--card); }
.secondary { background: transparent; color: var(--fg); border-color: var(--line); }
.error { color: var(--error); }
</style>
</head>
<body>
<main>
<h1>Canopy development identity provider</h1>
<p class="notice"><strong>For development only.</strong> Anyone can sign in here as anyone, without a password. Never let a real deployment trust it.</p>
{{end}}

{{define "login"}}{{template "head"}}
<p class="client">Signing in to <code>{{.ClientID}}</code>, which will receive you at <code>{{.RedirectURI}}</code>.</p>
<form method="post" action="{{.Action}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<div class="field">
<label for="{{.Fields.Email}}">Email</label>
<input id="{{.Fields.Email}}" name="{{.Fields.Email}}" type="email" value="{{.Person.Email}}" autocomplete="email" required autofocus{{if .Problem}} aria-invalid="true" aria-describedby="{{.Fields.Email}}_problem"{{end}}>
{{if .Problem}}<p class="problem" id="{{.Fields.Email}}_problem">{{.Problem}}</p>{{end}}
</div>
<div class="field">
<label for="{{.Fields.Name}}">Full name</label>
<input id="{{.Fields.Name}}" name="{{.Fields.Name}}" type="text" value="{{.Person.Name}}" autocomplete="name">
</div>
<div class="check">
<input id="{{.Fields.Verified}}" name="{{.Fields.Verified}}" type="checkbox" value="on"{{if .Person.EmailVerified}} checked{{end}}>
<label for="{{.Fields.Verified}}">Email verified</label>
</div>
<div class="actions">
<button class="primary" type="submit" name="{{.Fields.Action}}" value="{{.Fields.SignIn}}">Sign in</button>
<button class="secondary" type="submit" name="{{.Fields.Action}}" value="{{.Fields.Deny}}" formnovalidate>Deny</button>
</div>
</form>
</main>
</body>
</html>
{{end}}

{{define "error"}}{{template "head"}}
<p class="error" role="alert">{{.}}</p>
<p class="client">Nothing was sent back to the application. Check its client id and redirect URI against what <code>canopy devidp</code> printed.</p>
</main>
</body>
</html>
{{end}}
`))
