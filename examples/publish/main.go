// Command publish builds a function image without Docker and pushes it to
// a gofaas server's embedded registry: fwatchdog as the entrypoint plus,
// by default, the example function in examples/hello (the watchdog's http
// mode). It stands in for `gofaas up` until the CLI builder lands.
//
//	go run ./examples/publish                      # hello:latest, http mode
//	go run ./examples/publish -image cat:latest -fprocess cat -mode ""   # classic watchdog running cat
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gofaas/gofaas/internal/builder"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func run() error {
	home, _ := os.UserHomeDir()
	gateway := flag.String("gateway", envOr("OPENFAAS_URL", "http://127.0.0.1:8080"), "gateway URL (env OPENFAAS_URL)")
	user := flag.String("user", "admin", "registry user")
	pwFile := flag.String("password-file", filepath.Join(home, ".gofaas", "secrets", "basic-auth-password"), "file holding the password")
	image := flag.String("image", "hello:latest", "repository:tag to push")
	handler := flag.String("handler", "./examples/hello", "Go package of the function; empty for none")
	fprocess := flag.String("fprocess", "./handler", "the command the watchdog runs")
	mode := flag.String("mode", "http", `watchdog mode ("" = classic fork per request)`)
	flag.Parse()

	u, err := url.Parse(*gateway)
	if err != nil || u.Host == "" {
		return fmt.Errorf("gateway URL %q is not valid", *gateway)
	}
	pw, err := os.ReadFile(*pwFile)
	if err != nil {
		return fmt.Errorf("reading the password: %w", err)
	}
	tmp, err := os.MkdirTemp("", "publish")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	files := []builder.File{{Path: "usr/bin/fwatchdog", Mode: 0o755, Source: filepath.Join(tmp, "fwatchdog")}}
	if err := goBuild(filepath.Join(tmp, "fwatchdog"), "./cmd/fwatchdog"); err != nil {
		return err
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "fprocess=" + *fprocess}
	if *handler != "" {
		if err := goBuild(filepath.Join(tmp, "handler"), *handler); err != nil {
			return err
		}
		files = append(files, builder.File{Path: "home/app/handler", Mode: 0o755, Source: filepath.Join(tmp, "handler")})
	}
	if *mode != "" {
		env = append(env, "mode="+*mode)
	}
	if *mode == "http" {
		env = append(env, "upstream_url=http://127.0.0.1:8082")
	}
	img, err := builder.Image(files, builder.Config{Entrypoint: []string{"/usr/bin/fwatchdog"}, Env: env, WorkingDir: "/home/app"})
	if err != nil {
		return err
	}
	ref := u.Host + "/" + *image
	digest, err := builder.PushImage(context.Background(), img, ref, builder.PushOptions{User: *user, Password: strings.TrimSpace(string(pw))})
	if err != nil {
		return err
	}
	fmt.Printf("pushed %s@%s\n", ref, digest)
	return nil
}

func goBuild(out, pkg string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
