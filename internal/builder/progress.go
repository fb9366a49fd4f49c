package builder

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// Progress shows long steps (compile, pack, push) one at a time. On a
// terminal the current step is one line redrawn in place with "\r": its
// name, bytes done and total, and the percentage. Otherwise each step
// prints a single plain line when it ends ("push hello:latest: 3.1 MB ...
// done") and no control characters are ever written.
//
// A nil *Progress shows nothing, so callers may pass one unconditionally.
// It is safe for concurrent use, but steps must not overlap.
type Progress struct {
	w        io.Writer
	terminal bool

	mu          sync.Mutex
	name        string
	done, total int64
	last        string // the line drawn last (terminal)
}

// NewProgress returns a Progress writing to w; terminal says whether w is
// a terminal that understands "\r".
func NewProgress(w io.Writer, terminal bool) *Progress {
	return &Progress{w: w, terminal: terminal}
}

// Step starts the step name and returns the function that ends it; err
// says whether the step failed.
func (p *Progress) Step(name string) func(err error) {
	if p == nil {
		return func(error) {}
	}
	p.mu.Lock()
	p.name, p.done, p.total = name, 0, 0
	if p.terminal {
		p.draw(name + " ...")
	}
	p.mu.Unlock()
	return func(err error) { p.end(name, err) }
}

// Update tells how many bytes of the current step are done out of total
// (0 when unknown).
func (p *Progress) Update(done, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	if !p.terminal {
		return
	}
	line := p.name + ": " + humanBytes(done)
	if total > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", humanBytes(total), min(100, done*100/total))
	}
	if line != p.last {
		p.draw(line)
	}
}

// end prints the final line of a step.
func (p *Progress) end(name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := name
	if n := max(p.total, p.done); n > 0 {
		line += ": " + humanBytes(n)
	}
	if err != nil {
		line += " ... failed"
	} else {
		line += " ... done"
	}
	if p.terminal {
		p.draw(line)
		line = ""
	}
	fmt.Fprintln(p.w, line)
	p.last = ""
}

// draw overwrites the current terminal line with line.
func (p *Progress) draw(line string) {
	pad := ""
	if n := len(p.last) - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(p.w, "\r"+line+pad)
	p.last = line
}

// humanBytes formats n in decimal units, as docker does: 512 B, 3.1 MB.
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), 0
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", f, [...]string{"B", "kB", "MB", "GB"}[i])
}
