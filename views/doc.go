// Package views holds what every page is rendered with: the Shell that
// layouts read about the request (who is signed in, in which company, with
// which role, the CSRF token and the flashes), and the paths that pages link
// to and handlers redirect to, named once. The templ layouts, components and
// pages live in the folders below it.
//
// Nothing under views reads the database or the request: handlers load what
// a page shows and pass it in as plain values.
package views
