//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package builder

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on file (created if needed), waiting
// for other processes that hold it, and returns its release function.
func lockFile(file string) (func(), error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
