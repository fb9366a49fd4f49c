// Package function is the banner function of the gofaas store (template
// golang-http): it draws the request's text in big letters made of '#',
// like figlet.
package function

import (
	"io"
	"net/http"
	"strings"
)

// maxInput bounds the text drawn per request.
const maxInput = 4 << 10

// Handle draws the request body (or, when it is empty, the query
// parameter text) in big letters, one banner per input line.
func Handle(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInput))
	if err != nil {
		http.Error(w, "the text is too long: at most 4096 bytes", http.StatusRequestEntityTooLarge)
		return
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		text = strings.TrimSpace(r.URL.Query().Get("text"))
	}
	if text == "" {
		text = "gofaas"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, Render(text))
}

// Render draws each line of text as a banner; banners are separated by a
// blank line. Letters are upper-cased; characters without a glyph are
// drawn as '?'.
func Render(text string) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		renderLine(&b, strings.TrimSpace(line))
	}
	return b.String()
}

// renderLine writes the glyphs of line side by side, one column apart.
func renderLine(b *strings.Builder, line string) {
	glyphs := make([]glyph, 0, len(line))
	for _, r := range strings.ToUpper(line) {
		g, ok := font[r]
		if !ok {
			g = font['?']
		}
		glyphs = append(glyphs, g)
	}
	for row := range height {
		var l strings.Builder
		for i, g := range glyphs {
			if i > 0 {
				l.WriteByte(' ')
			}
			l.WriteString(g.row(row))
		}
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
}
