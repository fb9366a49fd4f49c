// Command fwatchdog is the watchdog inside every function replica: the
// classic fork-per-request watchdog and of-watchdog's http, streaming,
// serializing and static modes in one small static binary. It is configured
// by the OpenFaaS environment variables documented in docs/watchdog.md.
//
// Flags:
//
//	-run-healthcheck  exit 0 if the lock file exists, else 1 (for HEALTHCHECK)
//	-check-config     validate the environment, print the effective config, exit
//	-version          print the version and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/gofaas/gofaas/internal/watchdog"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getenv("GOGC") == "" {
		// The watchdog's live heap is a few MB; collecting less often buys
		// proxy throughput for little memory.
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fwatchdog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	healthcheck := fs.Bool("run-healthcheck", false, "exit 0 if the lock file exists, else 1")
	check := fs.Bool("check-config", false, "validate the configuration from the environment and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, warnings := watchdog.FromEnviron(os.Environ())
	switch {
	case *showVersion:
		fmt.Fprintf(stdout, "fwatchdog %s\n", version)
		return 0
	case *healthcheck:
		return runHealthcheck(cfg)
	case *check:
		return checkConfig(cfg, warnings, stdout, stderr)
	}
	return serve(cfg, warnings, stdout, stderr)
}

func runHealthcheck(cfg watchdog.Config) int {
	if _, err := os.Stat(cfg.LockPath()); err != nil {
		return 1
	}
	return 0
}

func checkConfig(cfg watchdog.Config, warnings []string, stdout, stderr io.Writer) int {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "configuration is invalid:\n%s\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "configuration is valid\n%s", cfg.Describe())
	return 0
}

func serve(cfg watchdog.Config, warnings []string, stdout, stderr io.Writer) int {
	level := slog.LevelInfo
	if cfg.WriteDebug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	for _, w := range warnings {
		log.Warn("ignoring environment value", "problem", w)
	}
	w, err := watchdog.New(cfg, watchdog.Options{Logger: log, Stdout: stdout, Stderr: stderr})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	log.Info("fwatchdog starting", "version", version, "config", cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := w.Run(ctx); err != nil {
		if errors.Is(err, watchdog.ErrUpstreamExited) {
			log.Error("stopping: the function's upstream process exited", "err", err)
		} else {
			log.Error("stopping", "err", err)
		}
		return 1
	}
	return 0
}
