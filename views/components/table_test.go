package components

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

// TestTableLabelsEveryCell: each cell of each row gets its column's heading,
// escaped; the actions cell past the headings gets none, and so do the cells
// of a table inside a cell and tags that only start like a cell's.
func TestTableLabelsEveryCell(t *testing.T) {
	rows := templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<tr><td class="x">Ann &lt;td&gt;</td><td>Admin</td><td class="cell-actions"><button>Remove</button></td></tr>`+
			"<tr>\n<td>Bob</td><td><table><tr><td>inner</td></tr></table></td><td></td></tr>"+
			`<tr data-x="1"><td>Cy</td><tdx></tdx><td>Viewer</td></tr>`)
		return err
	})
	var buf bytes.Buffer
	if err := Table(TableHead{Columns: []string{"Name", `Role "now"`}, Actions: true}).Render(templ.WithChildren(context.Background(), rows), &buf); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		`<tr><td data-label="Name" class="x">Ann &lt;td&gt;</td><td data-label="Role &#34;now&#34;">Admin</td><td class="cell-actions"><button>`,
		"<tr>\n<td data-label=\"Name\">Bob</td><td data-label=\"Role &#34;now&#34;\"><table><tr><td>inner</td></tr></table></td><td></td></tr>",
		`<tr data-x="1"><td data-label="Name">Cy</td><tdx></tdx><td data-label="Role &#34;now&#34;">Viewer</td></tr>`,
		`<th scope="col">Name</th>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the table lacks\n%s\nin\n%s", want, got)
		}
	}
}
