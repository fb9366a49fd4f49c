package process

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Isolation modes; see the package documentation.
const (
	IsolationAuto  = "auto"
	IsolationNetns = "netns"
	IsolationPorts = "ports"
)

// Config configures the process back-end. Zero fields take the defaults
// documented on each field (see Defaults).
type Config struct {
	// DataDir is the gofaas data directory (required); the back-end keeps
	// its files under <DataDir>/process.
	DataDir string
	// Isolation is "auto" (default), "netns" or "ports".
	Isolation string
	// LogMaxBytes is the size at which a function's log file is rotated
	// (one previous file is kept). Default 4 MiB.
	LogMaxBytes int64
	// HealthInterval is how often a ready replica is checked. Default 2s.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check. Default 1s.
	HealthTimeout time.Duration
	// StopGrace is how long a replica has to exit after SIGTERM before it
	// gets SIGKILL. Default 30s, the watchdog's default write_timeout, which
	// bounds its drain of requests in flight.
	StopGrace time.Duration
	// BackoffMin and BackoffMax bound the delay before a replica that
	// exited is restarted; it doubles from BackoffMin. Defaults 100ms, 30s.
	BackoffMin, BackoffMax time.Duration
	// BackoffReset is how long a replica must stay healthy for the delay
	// to go back to BackoffMin. Default 10s.
	BackoffReset time.Duration
	// RolloutTimeout is how long an update waits for the new replicas to be
	// ready before it stops the old ones anyway. Default 60s.
	RolloutTimeout time.Duration
	// MaxReplicas bounds the replicas of one function, so a typo cannot
	// start a million processes. Default 100.
	MaxReplicas uint64
	// HostPath is appended to every replica's PATH after the image's
	// entries. Default: the PATH of this process.
	HostPath string
	// CgroupRoot is where cgroup v2 is mounted. Default /sys/fs/cgroup.
	CgroupRoot string
	// Executable is the binary re-executed for netns replicas. Default:
	// os.Executable().
	Executable string
}

// Defaults returns c with every zero field set to its default.
func (c Config) Defaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.Isolation == "" {
		c.Isolation = IsolationAuto
	}
	if c.MaxReplicas == 0 {
		c.MaxReplicas = 100
	}
	if c.LogMaxBytes <= 0 {
		c.LogMaxBytes = 4 << 20
	}
	set(&c.HealthInterval, 2*time.Second)
	set(&c.HealthTimeout, time.Second)
	set(&c.StopGrace, 30*time.Second)
	set(&c.BackoffMin, 100*time.Millisecond)
	set(&c.BackoffMax, 30*time.Second)
	set(&c.BackoffReset, 10*time.Second)
	set(&c.RolloutTimeout, time.Minute)
	if c.HostPath == "" {
		c.HostPath = os.Getenv("PATH")
	}
	if c.HostPath == "" {
		c.HostPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/sys/fs/cgroup"
	}
	if c.Executable == "" {
		c.Executable, _ = os.Executable()
	}
	return c
}

// Validate reports every problem with c (after Defaults).
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("process: DataDir is required"))
	}
	switch c.Isolation {
	case IsolationAuto, IsolationNetns, IsolationPorts:
	default:
		errs = append(errs, fmt.Errorf("process: isolation %q: use auto, netns or ports", c.Isolation))
	}
	if c.BackoffMax < c.BackoffMin {
		errs = append(errs, fmt.Errorf("process: BackoffMax %s is below BackoffMin %s", c.BackoffMax, c.BackoffMin))
	}
	return errors.Join(errs...)
}
