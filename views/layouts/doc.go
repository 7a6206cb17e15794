// Package layouts holds the frames a page is rendered in, each taking the
// views.Shell and the page's content as its children: App, with the side
// menu, for Home and the pages reached from it; Focused, with a way back,
// for single-task pages and pages outside any company; Auth, the centred
// card for signing in; and Base, the HTML document under all three.
package layouts
