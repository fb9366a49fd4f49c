package builder

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// AdditionalPackageArg is the build-arg templates read extra OS packages
// from (faas-cli's build_options).
const AdditionalPackageArg = "ADDITIONAL_PACKAGE"

// Docker builds an image with the docker CLI, as faas-cli does:
//
//	docker build --tag <image> [--build-arg K=V ...] [--build-arg ADDITIONAL_PACKAGE=<pkgs>]
//	    [--build-arg http_proxy=...] [--build-arg https_proxy=...] .
//
// run in the build context.
type Docker struct {
	// Context is the prepared build context.
	Context string
	// Image is the tag given to the built image.
	Image string
	// BuildArgs are passed as --build-arg, sorted by key. An
	// ADDITIONAL_PACKAGE entry is split on spaces and merged with
	// AdditionalPackages.
	BuildArgs map[string]string
	// AdditionalPackages (from build_options) are passed, without
	// duplicates, as one space-separated ADDITIONAL_PACKAGE build-arg.
	AdditionalPackages []string
	// Getenv reads http_proxy and https_proxy, passed on as build-args when
	// set; nil means os.Getenv.
	Getenv func(string) string
	// Log receives docker's output; nil discards it.
	Log io.Writer
}

// Build runs docker build. A failure is a *BuildError holding the end of
// docker's output.
func (d Docker) Build(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return errors.New("docker is not installed (not in PATH); use the local builder or install Docker")
	}
	return run(ctx, d.Context, d.args(), os.Environ(), d.Log)
}

// args is the docker command line.
func (d Docker) args() []string {
	getenv := d.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	args := []string{"docker", "build", "--tag", d.Image}
	pkgs := slices.Clone(d.AdditionalPackages)
	keys := make([]string, 0, len(d.BuildArgs))
	for k := range d.BuildArgs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == AdditionalPackageArg {
			pkgs = append(pkgs, strings.Fields(d.BuildArgs[k])...)
			continue
		}
		args = append(args, "--build-arg", k+"="+d.BuildArgs[k])
	}
	if pkgs = unique(pkgs); len(pkgs) > 0 {
		args = append(args, "--build-arg", AdditionalPackageArg+"="+strings.Join(pkgs, " "))
	}
	for _, k := range []string{"http_proxy", "https_proxy"} {
		if v := getenv(k); v != "" {
			args = append(args, "--build-arg", k+"="+v)
		}
	}
	return append(args, ".")
}

// unique drops repeated strings, keeping the first of each.
func unique(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// DockerImage reads image back from the Docker engine (`docker save`) so it
// can be pushed with PushImage and our own credentials; no `docker login`
// is needed. The saved archive is unlinked at once and read through its
// open file (closed when the image is garbage collected), so nothing is
// left behind.
func DockerImage(ctx context.Context, image string) (v1.Image, error) {
	tmp, err := os.CreateTemp("", "gofaas-docker-save-*.tar")
	if err != nil {
		return nil, fmt.Errorf("creating temp file: %w", err)
	}
	defer os.Remove(tmp.Name())
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", "save", "--output", tmp.Name(), image)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("saving %s from docker: %w: %s", image, err, strings.TrimSpace(stderr.String()))
	}
	f, err := os.Open(tmp.Name())
	tmp.Close()
	if err != nil {
		return nil, fmt.Errorf("opening saved image: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening saved image: %w", err)
	}
	opener := func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, fi.Size())), nil
	}
	img, err := tarball.Image(opener, nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading saved image %s: %w", image, err)
	}
	return img, nil
}

// DockerAvailable reports whether a Docker engine answers GET /_ping within
// two seconds, at $DOCKER_HOST (unix:// or tcp://, with TLS when
// $DOCKER_TLS_VERIFY is set, certificates from $DOCKER_CERT_PATH) or else
// /var/run/docker.sock. Other schemes (ssh://) report false.
func DockerAvailable(ctx context.Context) bool {
	return dockerPing(ctx, os.Getenv)
}

func dockerPing(ctx context.Context, getenv func(string) string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	client, base, err := dockerClient(getenv)
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_ping", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	return resp.StatusCode == http.StatusOK
}

// dockerClient makes an HTTP client for the engine named by DOCKER_HOST
// and the base URL to use with it.
func dockerClient(getenv func(string) string) (*http.Client, string, error) {
	host := getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, "", err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	switch u.Scheme {
	case "unix":
		sock := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}
		return &http.Client{Transport: tr}, "http://docker", nil
	case "tcp":
		if getenv("DOCKER_TLS_VERIFY") == "" {
			return &http.Client{Transport: tr}, "http://" + u.Host, nil
		}
		cfg, err := dockerTLS(getenv)
		if err != nil {
			return nil, "", err
		}
		tr.TLSClientConfig = cfg
		return &http.Client{Transport: tr}, "https://" + u.Host, nil
	}
	return nil, "", fmt.Errorf("docker host scheme %q is not supported", u.Scheme)
}

// dockerTLS loads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH
// (default ~/.docker), as the docker CLI does.
func dockerTLS(getenv func(string) string) (*tls.Config, error) {
	dir := getenv("DOCKER_CERT_PATH")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(home, ".docker")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("no certificate in ca.pem")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
