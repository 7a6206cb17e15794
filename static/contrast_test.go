package static

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// colourPair is a text (or a control's edge) and what it is shown on.
type colourPair struct {
	fg, bg string  // custom properties of app.css's :root
	least  float64 // the lowest contrast ratio allowed
	what   string  // where the pair is seen
	rule   string  // a rule of app.css that paints the two together, "" when they meet through nesting
}

// Body text needs 4.5:1 (WCAG 2.x, 1.4.3). 3:1 is allowed only for what is
// not text (1.4.11): the edges of inputs, which tell where to type, and the
// tick in a finished setup step.
const (
	text = 4.5
	ui   = 3.0
)

var colourPairs = []colourPair{
	{"--ink", "--bg", text, "body text on the page", "body"},
	{"--ink", "--panel", text, "text in cards, tables, menus and dialogs", ".dialog"},
	{"--ink", "--panel-2", text, "a table row under the pointer", ""},
	{"--ink", "--field", text, "what is typed in an input", ".field input, .field select, .field textarea"},
	{"--ink", "--current", text, "the current company in the toggle", ""},
	{"--ink-2", "--panel", text, "labels and secondary text in cards", ""},
	{"--ink-2", "--bg", text, "secondary text on the page", ""},
	{"--ink-2", "--neutral-soft", text, "the Viewer badge", ".badge-role-viewer"},
	{"--ink-2", "--neutral-soft", text, "the Inactive device pill", ".status-pill-inactive"},
	{"--muted", "--panel", text, "muted text on cards", ""},
	{"--muted", "--bg", text, "muted text on the page (subtitles, pager)", ""},
	{"--muted", "--panel-2", text, "table headings; the Cancelled pill", ".status-pill-cancelled"},
	{"--brand", "--panel", text, "links in cards and tables", ""},
	{"--brand", "--bg", text, "links on the page; the focus outline", ""},
	{"--brand", "--current", text, "the tick beside the current company", ""},
	{"--brand-strong", "--brand-soft", text, "initials on a company's avatar", ".company-tile .company-avatar"},
	{"--brand-strong", "--bg", text, "the current tab", ""},
	{"--on-primary", "--primary", text, "the primary button", ".button-primary"},
	{"--on-primary", "--primary-hover", text, "the primary button under the pointer", ""},
	{"--on-primary", "--danger", text, "the danger button", ".button-danger"},
	{"--ok", "--ok-soft", text, "the Active and Completed pills", ".status-pill-active"},
	{"--ok", "--panel", text, "the Active status", ""},
	{"--ok-ink", "--ok-soft", text, "a success message", ".flash-success, .alert-success"},
	{"--bad", "--bad-soft", text, "the Deprovisioned pill", ".status-pill-deprovisioned"},
	{"--bad", "--panel", text, "the Inactive status; Deprovision; errors beside fields", ""},
	{"--bad-ink", "--bad-soft", text, "an error message", ".flash-error, .alert-error"},
	{"--warn", "--warn-soft", text, "the Pending pill", ".status-pill-pending"},
	{"--warn", "--panel", text, "the Invited status", ""},
	{"--warn-ink", "--warn-soft", text, "the Editor badge", ".badge-role-editor"},
	{"--warn-ink", "--warn-soft", text, "the Test data banner and badge", ".test-data-banner"},
	{"--info", "--info-soft", text, "the In progress pill", ".status-pill-in_progress"},
	{"--info", "--panel", text, "the In progress status", ""},
	{"--info-ink", "--info-soft", text, "an information message; the Admin badge", ".badge-role-admin"},
	{"--violet-ink", "--violet-soft", text, "the Super Admin badge", ".badge-role-super_admin"},
	{"--side-ink", "--side", text, "the side menu's links", ""},
	{"--side-strong", "--side-active", text, "the side menu's current link", ".nav-link.is-active"},
	{"--side-muted", "--side", text, "the owner's email under the company in the side menu", ""},
	{"--side-avatar-ink", "--side-avatar", text, "the company's initial in the side menu", ""},
	{"--field-border", "--field", ui, "an input's edge against the input", ""},
	{"--field-border", "--panel", ui, "an input's edge on a card", ""},
	{"--field-border", "--bg", ui, "an input's edge on the page (search)", ""},
	{"--panel", "--ok", ui, "the tick of a finished setup step", ".setup-item.is-done .setup-mark"},
}

// TestContrastOfBothSchemes: every pair of text and background colours of
// app.css's custom properties is readable in the light and in the dark
// scheme, and the rules that paint a pair use both of its properties.
func TestContrastOfBothSchemes(t *testing.T) {
	css := appCSS(t)
	for _, problem := range contrastProblems(css) {
		t.Error(problem)
	}
}

// TestContrastCheckCatchesAPoorColour: the check above fails when a colour
// is changed to one too faint, in either scheme.
func TestContrastCheckCatchesAPoorColour(t *testing.T) {
	css := appCSS(t)
	for _, change := range [][2]string{
		{"--muted: light-dark(#5f6f84,", "--muted: light-dark(#94a3b8,"},
		{"--muted: light-dark(#5f6f84, #8b949e)", "--muted: light-dark(#5f6f84, #484f58)"},
		{"--on-primary: #ffffff", "--on-primary: #5eead4"},
		{"--warn-soft: light-dark(#fef3c7, #3a2c0a)", "--warn-soft: light-dark(#fef3c7, #8a6a1a)"},
	} {
		if !strings.Contains(css, change[0]) {
			t.Fatalf("app.css has no %q to change", change[0])
		}
		if problems := contrastProblems(strings.Replace(css, change[0], change[1], 1)); len(problems) == 0 {
			t.Errorf("changing %q to %q goes unnoticed", change[0], change[1])
		}
	}
}

// TestColoursAreProperties: no rule outside :root names a colour of its
// own, so each works in both schemes.
func TestColoursAreProperties(t *testing.T) {
	css := stripComments(appCSS(t))
	root, rest := rootBlock(css)
	if root == "" {
		t.Fatal("app.css has no :root block")
	}
	literal := regexp.MustCompile(`#[0-9a-fA-F]{3,8}\b|\b(rgba?|hsla?|oklch|color-mix)\(|[:\s](white|black)\s*[;,)!]`)
	for _, line := range strings.Split(rest, "\n") {
		if m := literal.FindString(line); m != "" {
			t.Errorf("a rule outside :root names the colour %q (use a property of :root): %s", strings.TrimSpace(m), strings.TrimSpace(line))
		}
	}
}

func appCSS(t *testing.T) string {
	t.Helper()
	b, err := files.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// contrastProblems checks colourPairs against css.
func contrastProblems(css string) []string {
	css = stripComments(css)
	root, rules := rootBlock(css)
	light, dark, err := palettes(root)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, p := range colourPairs {
		for _, scheme := range []struct {
			name    string
			palette map[string]string
		}{{"light", light}, {"dark", dark}} {
			ratio, err := contrast(scheme.palette, p.fg, p.bg)
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("%s on %s (%s scheme): %v", p.fg, p.bg, scheme.name, err))
			case ratio < p.least:
				problems = append(problems, fmt.Sprintf("%s on %s, %s, is %.2f:1 in the %s scheme, below %.1f:1",
					p.fg, p.bg, p.what, ratio, scheme.name, p.least))
			}
		}
		if p.rule != "" {
			body, ok := ruleBody(rules, p.rule)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("app.css has no rule %q", p.rule))
			case !strings.Contains(body, "var("+p.fg+")") || !strings.Contains(body, "var("+p.bg+")"):
				problems = append(problems, fmt.Sprintf("the rule %q does not paint %s on %s: %s", p.rule, p.fg, p.bg, body))
			}
		}
	}
	return problems
}

var comment = regexp.MustCompile(`(?s)/\*.*?\*/`)

func stripComments(css string) string { return comment.ReplaceAllString(css, "") }

// rootBlock splits css into the declarations of its first :root rule and
// everything else.
func rootBlock(css string) (root, rest string) {
	start := strings.Index(css, ":root {")
	if start < 0 {
		return "", css
	}
	end := strings.Index(css[start:], "}")
	if end < 0 {
		return "", css
	}
	return css[start+len(":root {") : start+end], css[:start] + css[start+end+1:]
}

// ruleBody is the declarations of the rule whose selector is exactly selector.
func ruleBody(css, selector string) (string, bool) {
	for _, rule := range strings.Split(css, "}") {
		open := strings.LastIndex(rule, "{")
		if open < 0 {
			continue
		}
		if sel := strings.TrimSpace(rule[:open]); sel == selector || strings.HasSuffix(sel, "\n"+selector) {
			return rule[open+1:], true
		}
	}
	return "", false
}

// palettes reads the custom properties of :root's declarations for each
// scheme: light-dark(l, d) is l in the light scheme and d in the dark one;
// any other value is both.
func palettes(root string) (light, dark map[string]string, err error) {
	light, dark = map[string]string{}, map[string]string{}
	for _, decl := range strings.Split(root, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(decl), ":")
		if !ok || !strings.HasPrefix(name, "--") {
			continue
		}
		value = strings.TrimSpace(value)
		l, d := value, value
		if inner, ok := strings.CutPrefix(value, "light-dark("); ok && strings.HasSuffix(inner, ")") {
			args := splitTopLevel(strings.TrimSuffix(inner, ")"))
			if len(args) != 2 {
				return nil, nil, fmt.Errorf("%s: light-dark() takes two values, got %q", name, value)
			}
			l, d = args[0], args[1]
		}
		light[name], dark[name] = l, d
	}
	return light, dark, nil
}

// splitTopLevel splits s at the commas outside parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, from := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[from:i]))
				from = i + 1
			}
		}
	}
	return append(parts, strings.TrimSpace(s[from:]))
}

// colour is a property's value as red, green and blue, following var().
func colour(palette map[string]string, name string) ([3]float64, error) {
	value, ok := palette[name]
	for depth := 0; ok && strings.HasPrefix(value, "var(") && depth < 10; depth++ {
		value, ok = palette[strings.TrimSuffix(strings.TrimPrefix(value, "var("), ")")]
	}
	if !ok {
		return [3]float64{}, fmt.Errorf("no property %s", name)
	}
	hex := strings.TrimPrefix(value, "#")
	if len(hex) == 3 {
		hex = string([]byte{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]})
	}
	if len(hex) != 6 || !strings.HasPrefix(value, "#") {
		return [3]float64{}, fmt.Errorf("%s is %q, not an opaque #rrggbb colour", name, value)
	}
	var rgb [3]float64
	for i := range rgb {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			return rgb, fmt.Errorf("%s is %q: %w", name, value, err)
		}
		rgb[i] = float64(v) / 255
	}
	return rgb, nil
}

// contrast is the WCAG 2.x contrast ratio of two properties' colours.
func contrast(palette map[string]string, fg, bg string) (float64, error) {
	a, err := colour(palette, fg)
	if err != nil {
		return 0, err
	}
	b, err := colour(palette, bg)
	if err != nil {
		return 0, err
	}
	la, lb := luminance(a), luminance(b)
	return (math.Max(la, lb) + 0.05) / (math.Min(la, lb) + 0.05), nil
}

// luminance is a colour's relative luminance (WCAG 2.x).
func luminance(rgb [3]float64) float64 {
	linear := func(c float64) float64 {
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*linear(rgb[0]) + 0.7152*linear(rgb[1]) + 0.0722*linear(rgb[2])
}
