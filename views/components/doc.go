// Package components holds the templ pieces that pages and layouts are built
// from: page headers, search forms, lists with their pager and empty states,
// tables, form fields, confirm buttons, flashes, icons and the company items
// of the toggle.
//
// A component takes plain values (strings, url.Values, and where it shows
// one, a model such as models.Company or models.PageInfo), never the
// views.Shell, and knows nothing of the page it sits in.
package components
