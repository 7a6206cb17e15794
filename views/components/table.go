package components

import (
	"bytes"
	"context"
	"html"
	"io"

	"github.com/a-h/templ"
)

// labelledCells renders a table's rows (its children) with each cell
// carrying its column's heading in data-label. At phone width app.css stacks
// a row's cells and hides the header row, and each cell shows its label
// instead; the pages write their rows as plain <tr> and <td>, and the one
// place that knows the headings, Table, names the cells.
func labelledCells(columns []string) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		rows := templ.GetChildren(ctx)
		var buf bytes.Buffer
		if err := rows.Render(templ.ClearChildren(ctx), &buf); err != nil {
			return err
		}
		_, err := w.Write(withCellLabels(buf.Bytes(), columns))
		return err
	})
}

// withCellLabels adds data-label="heading" to every <td> of the rows in
// markup, the nth cell of a row getting the nth heading; cells past the
// headings (the actions column) get none, and so do the cells of a table
// nested inside a cell. templ escapes every "<" of text and attribute
// values, so each "<" in its output starts a tag.
func withCellLabels(markup []byte, columns []string) []byte {
	out := make([]byte, 0, len(markup)+len(markup)/8)
	nested, column := 0, 0
	for len(markup) > 0 {
		i := bytes.IndexByte(markup, '<')
		if i < 0 {
			return append(out, markup...)
		}
		out = append(out, markup[:i]...)
		markup = markup[i:]
		switch {
		case isTag(markup, "<table"):
			nested++
		case isTag(markup, "</table"):
			nested--
		case nested == 0 && isTag(markup, "<tr"):
			column = 0
		case nested == 0 && isTag(markup, "<td"):
			out = append(out, "<td"...)
			markup = markup[len("<td"):]
			if column < len(columns) {
				out = append(out, ` data-label="`...)
				out = append(out, html.EscapeString(columns[column])...)
				out = append(out, '"')
			}
			column++
			continue
		}
		out = append(out, '<')
		markup = markup[1:]
	}
	return out
}

// isTag tells whether markup starts with the tag opened or closed by name
// (e.g. "<td"), rather than a longer name that starts the same ("<tdx").
func isTag(markup []byte, name string) bool {
	if !bytes.HasPrefix(markup, []byte(name)) || len(markup) == len(name) {
		return false
	}
	switch markup[len(name)] {
	case ' ', '>', '/', '\t', '\n', '\r', '\f':
		return true
	}
	return false
}
