package process

import (
	"fmt"
	"net"
	"sync"
)

// portPool hands out free loopback ports and never the same one twice
// while it is in use.
type portPool struct {
	mu    sync.Mutex
	inUse map[int]bool
}

func newPortPool() *portPool { return &portPool{inUse: map[int]bool{}} }

// take returns n free ports.
func (pp *portPool) take(n int) ([]int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100 {
			pp.releaseLocked(out)
			return nil, fmt.Errorf("no free loopback port")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			pp.releaseLocked(out)
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !pp.inUse[port] {
			pp.inUse[port] = true
			out = append(out, port)
		}
	}
	return out, nil
}

func (pp *portPool) release(ports []int) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	pp.releaseLocked(ports)
}

func (pp *portPool) releaseLocked(ports []int) {
	for _, p := range ports {
		delete(pp.inUse, p)
	}
}
