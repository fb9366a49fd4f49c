package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// IOStreams are where a command reads its input and writes its output. Every
// verb writes through them, never to os.Stdout or a logger, so tests can
// capture what a user sees.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// InTTY and OutTTY tell whether In and Out are terminals.
	InTTY, OutTTY bool
	// ErrTTY tells whether ErrOut is a terminal (progress is drawn there).
	ErrTTY bool
}

// System returns the process's standard streams.
func System() *IOStreams {
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		InTTY: isTerminal(os.Stdin), OutTTY: isTerminal(os.Stdout), ErrTTY: isTerminal(os.Stderr),
	}
}

// TestStreams returns streams on buffers, for tests: stdin reads in, and
// the other two buffers collect stdout and stderr.
func TestStreams(in string) (ios *IOStreams, out, errOut *bytes.Buffer) {
	out, errOut = &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: bytes.NewBufferString(in), Out: out, ErrOut: errOut}, out, errOut
}

// isTerminal asks the kernel for f's terminal settings: /dev/null is a
// character device too, but not a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
