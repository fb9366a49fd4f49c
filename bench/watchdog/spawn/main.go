// Command spawn measures the ceiling for classic mode on this machine: how
// many times per second Go can fork `cat`, feed it a few bytes and collect
// its output, with no HTTP at all. The watchdog benchmark prints it next to
// classic mode's req/s.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	workers := flag.Int("workers", 4, "concurrent spawners")
	duration := flag.Duration("d", 5*time.Second, "how long to run")
	program := flag.String("program", "cat", "program to run")
	flag.Parse()
	path, err := exec.LookPath(*program)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var n atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for range *workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				cmd := exec.Command(path)
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
				cmd.Stdin = bytes.NewReader([]byte("hello"))
				var out bytes.Buffer
				cmd.Stdout = &out
				if err := cmd.Run(); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	fmt.Printf("%.2f\n", float64(n.Load())/duration.Seconds())
}
