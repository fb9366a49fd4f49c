//go:build e2e

package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// docker runs the docker CLI and returns its combined output.
func docker(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestDockerPush pushes an image with the real docker CLI, pulls it back
// with docker and go-containerregistry, and unpacks it with the Cache.
func TestDockerPush(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed")
	}
	if out, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("docker daemon not usable: %v: %s", err, out)
	}
	reg, _, host := newServer(t, t.TempDir())
	ref := host + "/e2e/imported:v1"

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := "pushed by docker\n"
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := docker(ctx, "import", "--change", `CMD ["/hello"]`, tarPath, ref); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
	t.Cleanup(func() { docker(context.Background(), "rmi", "-f", ref) })
	if out, err := docker(ctx, "push", ref); err != nil {
		if strings.Contains(out, "connection refused") || strings.Contains(out, "no route to host") {
			t.Skipf("docker daemon cannot reach %s (different network namespace?): %s", host, out)
		}
		t.Fatalf("docker push: %v: %s", err, out)
	}

	img, err := remote.Image(mustRef(t, ref), remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("pulling what docker pushed: %v", err)
	}
	mt, _ := img.MediaType()
	if string(mt) != mediaDockerManifest {
		t.Fatalf("docker pushed media type %s, want %s", mt, mediaDockerManifest)
	}
	if out, err := docker(ctx, "rmi", ref); err != nil {
		t.Fatalf("docker rmi: %v: %s", err, out)
	}
	if out, err := docker(ctx, "pull", ref); err != nil {
		t.Fatalf("docker pull: %v: %s", err, out)
	}

	c := NewCache(t.TempDir(), reg, testLogger(t))
	c.transport = failTransport{t}
	c.keychain = authn.NewMultiKeychain()
	unpacked, err := c.Unpack(ctx, "docker.io/e2e/imported:v1")
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if got := readFile(t, filepath.Join(unpacked.Root, "hello.txt")); got != body {
		t.Fatalf("hello.txt = %q", got)
	}
	if len(unpacked.Cmd) != 1 || unpacked.Cmd[0] != "/hello" {
		t.Fatalf("Cmd = %q, want [/hello]", unpacked.Cmd)
	}
}
