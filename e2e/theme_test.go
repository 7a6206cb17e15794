package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// preferScheme makes the tab's "system" prefer a light or a dark scheme,
// as the operating system's setting would.
func preferScheme(t *testing.T, tab context.Context, scheme string) {
	t.Helper()
	if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.Fatalf("prefer a %s scheme: %v", scheme, err)
	}
}

// shownScheme is the scheme the page is painted in, told by how light its
// text is: "light" (dark text) or "dark" (light text).
func shownScheme(t *testing.T, tab context.Context) string {
	t.Helper()
	light, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => {
		const [r, g, b] = getComputedStyle(document.body).color.match(/[\d.]+/g).map(Number);
		return (r + g + b) / 3 < 128;
	})()`))
	if err != nil {
		t.Fatalf("read the page's background: %v", err)
	}
	if light {
		return "light"
	}
	return "dark"
}

func wantScheme(t *testing.T, tab context.Context, want string) {
	t.Helper()
	if got := shownScheme(t, tab); got != want {
		t.Errorf("page at %s is %s, want %s", location(t, tab), got, want)
	}
}

// recordFirstPaintScheme makes every page the tab loads note, as soon as
// its <body> exists (before anything can be painted), which data-theme its
// <html> has.
func recordFirstPaintScheme(t *testing.T, tab context.Context) {
	t.Helper()
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		new MutationObserver((_, watch) => {
			if (!document.body) return;
			window.themeAtFirstBody = document.documentElement.getAttribute("data-theme") || "system";
			watch.disconnect();
		}).observe(document, {childList: true, subtree: true});`}); err != nil {
		t.Fatal(err)
	}
}

func themeAtFirstBody(t *testing.T, tab context.Context) string {
	t.Helper()
	theme, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.themeAtFirstBody || ""`))
	if err != nil {
		t.Fatal(err)
	}
	return theme
}

// openInTheme opens a page and checks that it shows the scheme, and that
// the theme (light, dark or system) was on its <html> before the first paint.
func openInTheme(t *testing.T, tab context.Context, rawURL, theme, scheme string) {
	t.Helper()
	open(t, tab, rawURL)
	wantScheme(t, tab, scheme)
	if got := themeAtFirstBody(t, tab); got != theme {
		t.Errorf("before the first paint of %s the theme is %q, want %s", rawURL, got, theme)
	}
}

// chooseTheme picks System, Light or Dark in the Account menu.
func chooseTheme(t *testing.T, tab context.Context, value string) {
	t.Helper()
	click(t, tab, ".user-menu > summary")
	click(t, tab, `.theme-option:has(input[value="`+value+`"])`)
	checked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('.theme-choice input[value="`+value+`"]').checked`))
	if err != nil || !checked {
		t.Fatalf("%s is not checked after choosing it (%v)", value, err)
	}
}

// TestThemeChoice: the page follows the system's light or dark preference;
// the Account menu's choice overrides it at once and is there from the first
// paint of the next page; System hands back to the system. No inline script
// or style is needed (CSP).
func TestThemeChoice(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	csp := watchCSP(t, tab)
	recordFirstPaintScheme(t, tab)
	preferScheme(t, tab, "dark")
	signIn(t, tab, a, "acme", "alice@acme.test")
	wantScheme(t, tab, "dark")
	screenshot(t, tab, "theme-system-dark.png")

	chooseTheme(t, tab, "light")
	wantScheme(t, tab, "light")
	screenshot(t, tab, "theme-menu-light.png")
	openInTheme(t, tab, a.tenantURL("acme", "/devices"), "light", "light")

	preferScheme(t, tab, "light")
	chooseTheme(t, tab, "dark")
	wantScheme(t, tab, "dark")
	screenshot(t, tab, "theme-menu-dark.png")
	openInTheme(t, tab, a.tenantURL("acme", "/"), "dark", "dark")

	chooseTheme(t, tab, "system")
	wantScheme(t, tab, "light")
	openInTheme(t, tab, a.tenantURL("acme", "/orders"), "system", "light")
	preferScheme(t, tab, "dark")
	wantScheme(t, tab, "dark")
	csp.none(t)
}

// TestThemeHoldsAcrossCompanies: a choice made on one company's address
// holds on the others and on the base domain, because its cookie is the
// base domain's. (With a base domain of two labels, as in production: a
// browser keeps no cookie for all of localhost, so there each address
// remembers its own; see app.js.)
func TestThemeHoldsAcrossCompanies(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopyOn(t, canopyTest)
	tab := newTab(t, newBrowser(t), desktop)
	preferScheme(t, tab, "light")
	signIn(t, tab, a, "acme", "alice@acme.test")
	wantScheme(t, tab, "light")
	chooseTheme(t, tab, "dark")

	for _, u := range []string{a.tenantURL("globex", "/"), a.tenantURL("initech", "/orders"), "http://" + a.baseHost() + "/account/password"} {
		wantStatus(t, open(t, tab, u), http.StatusOK)
		if got := location(t, tab).String(); got != u {
			t.Fatalf("opened %s, at %s", u, got)
		}
		wantScheme(t, tab, "dark")
	}
	screenshot(t, tab, "theme-across-companies.png")

	open(t, tab, a.tenantURL("globex", "/"))
	chooseTheme(t, tab, "system")
	open(t, tab, a.tenantURL("acme", "/"))
	wantScheme(t, tab, "light")
}

// unreadable lists the text on the page whose colour is too close to what
// is behind it: below 4.5:1, or 3:1 for large text (WCAG 2.x). Text over an
// image or gradient, and disabled controls, are left out.
func unreadable(t *testing.T, tab context.Context) []string {
	t.Helper()
	found, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`(() => {
		const rgba = s => { const v = s.match(/[\d.]+/g).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
		const over = (top, under) => [0, 1, 2].map(i => top[i] * top[3] + under[i] * (1 - top[3])).concat(1);
		const lum = c => { const f = v => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
			return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
		// What is painted behind an element: its own and its ancestors'
		// backgrounds, down to the first opaque one; null over an image.
		const behind = e => {
			const layers = [];
			for (; e; e = e.parentElement) {
				const st = getComputedStyle(e);
				if (st.backgroundImage !== "none") return null;
				const c = rgba(st.backgroundColor);
				if (c[3] > 0) layers.push(c);
				if (c[3] >= 1) break;
			}
			let under = [255, 255, 255, 1];
			for (let i = layers.length - 1; i >= 0; i--) under = over(layers[i], under);
			return under;
		};
		const problems = [];
		for (const e of document.body.querySelectorAll("*")) {
			if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
			const box = e.getBoundingClientRect();
			if (box.width <= 1 || box.height <= 1 || e.closest("[aria-disabled=true], .is-disabled, option")) continue;
			const st = getComputedStyle(e);
			if (st.visibility !== "visible") continue;
			let faded = false;
			for (let p = e; p; p = p.parentElement) if (Number(getComputedStyle(p).opacity) < 1) faded = true;
			if (faded) continue;
			const bg = behind(e);
			if (!bg) continue;
			const fg = over(rgba(st.color), bg);
			const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
			const ratio = (hi + 0.05) / (lo + 0.05);
			const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
			const least = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
			if (ratio < least) {
				problems.push(ratio.toFixed(2) + ":1 " + JSON.stringify(e.textContent.trim().slice(0, 40)) + " (" +
					e.tagName.toLowerCase() + "." + String(e.className).trim().replace(/\s+/g, ".") + ", " + st.color + " on rgb(" + bg.slice(0, 3).map(Math.round) + "))");
			}
		}
		return problems.slice(0, 10);
	})()`))
	if err != nil {
		t.Fatalf("check the text's contrast: %v", err)
	}
	return found
}

// TestOverlaysInBothSchemes: what opens over a page — the Account menu,
// the company toggle and the confirmation dialog — is looked over (see
// lookOver) in the light and the dark scheme, at desktop and phone width.
// The pages themselves are TestEveryPage's.
func TestOverlaysInBothSchemes(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	// Four sessions (two schemes, two widths), each looked over three
	// times: more than one test's usual minute on a busy two-core machine.
	browser := newBrowserWithin(t, 4*testTimeout)
	for _, scheme := range tourSchemes {
		for _, size := range tourSizes {
			tab := newTab(t, browser, size.size)
			preferScheme(t, tab, scheme)
			signIn(t, tab, a, "acme", "alice@acme.test")
			name := func(what string) string { return what + "-" + size.name + "-" + scheme }
			open(t, tab, a.tenantURL("acme", "/settings/team"))
			click(t, tab, ".user-menu > summary")
			lookOver(t, tab, name("account-menu"), scheme, false)
			if size.name == "phone" {
				click(t, tab, phoneMenuButton)
			}
			click(t, tab, ".company-toggle > summary")
			lookOver(t, tab, name("toggle"), scheme, false)
			clickXPath(t, tab, rowButton("dave@acme.test", "Remove"))
			waitVisible(t, tab, "#confirm-dialog")
			lookOver(t, tab, name("confirm"), scheme, false)
		}
	}
}
