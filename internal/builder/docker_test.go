package builder

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestDockerArgs(t *testing.T) {
	t.Parallel()
	build := []string{"docker", "build", "--tag"}
	tests := []struct {
		name string
		d    Docker
		env  map[string]string
		want []string
	}{
		{"plain", Docker{Image: "hello:latest"}, nil, append(build, "hello:latest", ".")},
		{"build args sorted, spaces kept", Docker{Image: "x", BuildArgs: map[string]string{"Z": "1", "A": "two words"}}, nil,
			append(build, "x", "--build-arg", "A=two words", "--build-arg", "Z=1", ".")},
		{"packages merged", Docker{Image: "x", AdditionalPackages: []string{"curl", "git"}, BuildArgs: map[string]string{"ADDITIONAL_PACKAGE": "git  jq"}}, nil,
			append(build, "x", "--build-arg", "ADDITIONAL_PACKAGE=curl git jq", ".")},
		{"proxies", Docker{Image: "x", BuildArgs: map[string]string{"K": "V"}}, map[string]string{"http_proxy": "http://p:3128", "https_proxy": "http://s:3128"},
			append(build, "x", "--build-arg", "K=V", "--build-arg", "http_proxy=http://p:3128", "--build-arg", "https_proxy=http://s:3128", ".")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.d
			d.Getenv = func(k string) string { return tt.env[k] }
			if got := d.args(); !slices.Equal(got, tt.want) {
				t.Errorf("args %q\nwant %q", got, tt.want)
			}
		})
	}
}

// fakeEngine answers /_ping with status on a listener and returns its
// DOCKER_HOST.
func fakeEngine(t *testing.T, network string, status int) string {
	t.Helper()
	var ln net.Listener
	var err error
	if network == "unix" {
		ln, err = net.Listen("unix", filepath.Join(t.TempDir(), "d.sock"))
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprint(w, "OK")
	}))
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	if network == "unix" {
		return "unix://" + ln.Addr().String()
	}
	return "tcp://" + ln.Addr().String()
}

func TestDockerPing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		host func(t *testing.T) string
		want bool
	}{
		{"unix socket", func(t *testing.T) string { return fakeEngine(t, "unix", http.StatusOK) }, true},
		{"tcp", func(t *testing.T) string { return fakeEngine(t, "tcp", http.StatusOK) }, true},
		{"engine unhealthy", func(t *testing.T) string { return fakeEngine(t, "unix", http.StatusInternalServerError) }, false},
		{"no socket", func(t *testing.T) string { return "unix://" + filepath.Join(t.TempDir(), "none.sock") }, false},
		{"ssh", func(*testing.T) string { return "ssh://user@host" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"DOCKER_HOST": tt.host(t)}
			if got := dockerPing(t.Context(), func(k string) string { return env[k] }); got != tt.want {
				t.Errorf("dockerPing(%s) = %v, want %v", env["DOCKER_HOST"], got, tt.want)
			}
		})
	}
}

// dockerTag returns a tag no other test run uses, removed at cleanup.
func dockerTag(t *testing.T) string {
	t.Helper()
	tag := "gofaas-builder-test-" + strings.ToLower(rand.Text()[:10]) + ":1"
	t.Cleanup(func() {
		_ = exec.CommandContext(context.WithoutCancel(t.Context()), "docker", "rmi", "--force", tag).Run()
	})
	return tag
}

func needDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("docker tests are slow; run without -short")
	}
	if !DockerAvailable(t.Context()) {
		t.Skip("no Docker engine answers at $DOCKER_HOST or /var/run/docker.sock")
	}
}

const testDockerfile = `FROM scratch
ARG GREETING
ARG ADDITIONAL_PACKAGE
ARG http_proxy
COPY fwatchdog /usr/bin/fwatchdog
COPY hello.txt /home/app/hello.txt
LABEL greeting=$GREETING packages="$ADDITIONAL_PACKAGE" proxy=$http_proxy
`

func TestDockerBuildPush(t *testing.T) {
	needDocker(t)
	t.Parallel()
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"fn/Dockerfile": testDockerfile, "fn/hello.txt": "hello from docker"})
	c := Context{Dir: filepath.Join(project, "build", "fn"), ProjectDir: project, HandlerDir: filepath.Join(project, "fn"),
		HandlerAtRoot: true, Watchdog: fakeWatchdog(t)}
	if err := c.Prepare(); err != nil {
		t.Fatal(err)
	}
	tag := dockerTag(t)
	var log bytes.Buffer
	d := Docker{Context: c.Dir, Image: tag, BuildArgs: map[string]string{"GREETING": "hi"},
		AdditionalPackages: []string{"curl", "git"}, Log: &log,
		Getenv: func(k string) string { return map[string]string{"http_proxy": "http://proxy.invalid:3128"}[k] }}
	if err := d.Build(t.Context()); err != nil {
		t.Fatalf("Build: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "Successfully") && !strings.Contains(log.String(), "naming to") {
		t.Errorf("docker's output did not reach Log: %q", log.String())
	}
	img, err := DockerImage(t.Context(), tag)
	if err != nil {
		t.Fatalf("DockerImage: %v", err)
	}
	reg := newTestRegistry(t)
	ref := reg.host + "/docker-fn:1"
	if _, err := PushImage(t.Context(), img, ref, PushOptions{}); err != nil {
		t.Fatalf("PushImage: %v", err)
	}
	checkDockerImage(t, pull(t, ref))
}

func checkDockerImage(t *testing.T, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"greeting": "hi", "packages": "curl git", "proxy": "http://proxy.invalid:3128"}
	for k, v := range wantLabels {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (build-args not passed?)", k, cf.Config.Labels[k], v)
		}
	}
	files := map[string]tarFile{}
	for _, l := range layersOf(t, img) {
		for name, f := range layerFilesAnyOwner(t, l) {
			files[name] = f
		}
	}
	if files["home/app/hello.txt"].data != "hello from docker" || !strings.Contains(files["usr/bin/fwatchdog"].data, "fake watchdog") {
		t.Errorf("image files %v", keys(files))
	}
}

func TestDockerBuildFails(t *testing.T) {
	needDocker(t)
	t.Parallel()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY missing.txt /x\n"})
	err := Docker{Context: dir, Image: dockerTag(t)}.Build(t.Context())
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "missing.txt") {
		t.Fatalf("Build error %v, want a *BuildError naming missing.txt", err)
	}
	if _, err := DockerImage(t.Context(), "gofaas-no-such-image:0"); err == nil || !strings.Contains(err.Error(), "gofaas-no-such-image") {
		t.Errorf("DockerImage of a missing image: %v", err)
	}
}

// TestDockerImageLeavesNoFile checks that the saved archive is unlinked.
// It does not run in parallel: other tests' archives would be counted.
func TestDockerImageLeavesNoFile(t *testing.T) {
	needDocker(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY f /f\n", "f": "x"})
	tag := dockerTag(t)
	if err := (Docker{Context: dir, Image: tag}).Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "gofaas-docker-save-*"))
	img, err := DockerImage(t.Context(), tag)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "gofaas-docker-save-*"))
	if len(after) > len(before) {
		t.Errorf("docker save left %v behind", after)
	}
	if files := layerFilesAnyOwner(t, layersOf(t, img)[0]); files["f"].data != "x" {
		t.Errorf("layer files %v", keys(files))
	}
}
