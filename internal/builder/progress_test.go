package builder

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"plain", false, "compile ... done\npush hello:latest: 3.1 MB ... done\npack ... failed\n"},
		{"terminal", true, "\rcompile ...\rcompile ... done\n" +
			"\rpush hello:latest ...\rpush hello:latest: 0 B / 3.1 MB (0%)\rpush hello:latest: 1 B / 3.1 MB (0%)" +
			"\rpush hello:latest: 1.6 MB / 3.1 MB (50%)" +
			"\rpush hello:latest: 3.1 MB / 3.1 MB (100%)\rpush hello:latest: 3.1 MB ... done       \n" +
			"\rpack ...\rpack ... failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			p := NewProgress(&out, tt.terminal)
			p.Step("compile")(nil)
			done := p.Step("push hello:latest")
			for _, n := range []int64{0, 1, 1_550_000, 1_550_001, 3_100_000} {
				p.Update(n, 3_100_000)
			}
			done(nil)
			p.Step("pack")(errors.New("disk full"))
			if out.String() != tt.want {
				t.Errorf("output\n%q\nwant\n%q", out.String(), tt.want)
			}
			if !tt.terminal && strings.ContainsFunc(out.String(), func(r rune) bool { return r < ' ' && r != '\n' }) {
				t.Errorf("control characters in plain output %q", out.String())
			}
		})
	}
}

func TestNilProgress(t *testing.T) {
	t.Parallel()
	var p *Progress
	done := p.Step("x")
	p.Update(1, 2)
	done(nil)
}

func TestHumanBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 kB"}, {3_100_000, "3.1 MB"}, {2_500_000_000, "2.5 GB"}, {4_000_000_000_000, "4000.0 GB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
