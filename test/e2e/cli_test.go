//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cli runs the gofaas client against one server from one project folder,
// with its own HOME and faas-cli config dir, as a new user would.
type cli struct {
	t       *testing.T
	s       *server
	project string
	env     []string
}

func newCLI(t *testing.T, s *server) *cli {
	home := t.TempDir()
	project := filepath.Join(home, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"OPENFAAS_URL=" + s.URL,
		"GOCACHE=" + goEnv(t, "GOCACHE"),
		"GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
		"GOFLAGS=-mod=mod",
		"GOPROXY=off",
	}
	return &cli{t: t, s: s, project: project, env: env}
}

// goEnv reads one `go env` value so the builds share the test's caches.
func goEnv(t *testing.T, key string) string {
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// run runs gofaas args with stdin and returns stdout; a non-zero exit fails
// the test unless wantFail.
func (c *cli) run(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(stdin, args...)
	if err != nil {
		c.t.Fatalf("gofaas %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func (c *cli) exec(stdin string, args ...string) (string, string, error) {
	cmd := exec.Command(filepath.Join(bin, "gofaas"), args...)
	cmd.Dir = c.project
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// invokeUntil calls the function until it answers and returns the body.
func (c *cli) invokeUntil(name, body, want string) {
	c.t.Helper()
	checkFor(c.t, 30*time.Second, 50*time.Millisecond, func() error {
		out, errOut, err := c.exec(body, "invoke", name)
		if err != nil {
			return &cliError{out + errOut}
		}
		if !strings.Contains(out, want) {
			return &cliError{"answer " + out + " lacks " + want}
		}
		return nil
	})
}

type cliError struct{ s string }

func (e *cliError) Error() string { return e.s }

// journeys are the templates the e2e drives: the scaffold's file where the
// one-line change is made, and the program the template needs on the host.
var journeys = []struct {
	lang, file, needs string
}{
	{"golang-http", "handler.go", ""},
	{"go", "handler.go", ""},
	{"python3-http", "handler.py", "python3"},
	{"bash-streaming", "handler.sh", "bash"},
	{"node-http", "handler.js", "node"},
}

// Every scaffold greets with before; the change makes it greet with after.
const before, after = "Hello from gofaas!", "Hello v2 from gofaas!"

// TestCLIJourney is the README's journey for each template the machine can
// run (the suite installs no interpreter): login, new, up, invoke, a one-line
// change, up again, then list, describe, logs, scale and remove.
func TestCLIJourney(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--autoscale=false")
	c := newCLI(t, s)
	out := c.run(s.Pass+"\n", "login", "-u", "admin", "--password-stdin")
	if !strings.Contains(out, "credentials saved") {
		t.Errorf("login printed %q", out)
	}
	for _, j := range journeys {
		t.Run(j.lang, func(t *testing.T) {
			if j.needs != "" {
				if _, err := exec.LookPath(j.needs); err != nil {
					t.Skipf("%s is not installed; the process back-end runs %s with the host's %s", j.needs, j.lang, j.needs)
				}
			}
			c.t = t
			name := "fn-" + strings.ReplaceAll(j.lang, "3", "")
			args := []string{"new", name, "--lang", j.lang}
			if _, err := os.Stat(filepath.Join(c.project, "stack.yaml")); err == nil {
				args = append(args, "--append", "stack.yaml")
			}
			out := c.run("", args...)
			if !strings.Contains(out, name) {
				t.Errorf("new printed %q", out)
			}
			c.run("", "up", "--builder", "local", "--filter", name)
			c.invokeUntil(name, "ping", before)

			src := filepath.Join(c.project, name, j.file)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte(before)) {
				t.Fatalf("%s has no %q:\n%s", src, before, data)
			}
			changed := bytes.Replace(data, []byte(before), []byte(after), 1)
			if err := os.WriteFile(src, changed, 0o644); err != nil {
				t.Fatal(err)
			}
			c.run("", "up", "--builder", "local", "--filter", name)
			c.invokeUntil(name, "ping", after)
		})
	}
	c.t = t

	list := c.run("", "list", "-v")
	if !strings.Contains(list, "fn-golang-http") || !strings.Contains(list, "fn-golang-http:latest") {
		t.Errorf("list -v lacks the function or its image:\n%s", list)
	}
	desc := c.run("", "describe", "fn-golang-http")
	for _, want := range []string{"fn-golang-http", "Ready", s.URL + "/function/fn-golang-http", s.URL + "/async-function/fn-golang-http"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	out = c.run("", "invoke", "fn-golang-http", "--async")
	if !strings.Contains(out, "submitted asynchronously") {
		t.Errorf("invoke --async printed %q", out)
	}
	c.run("", "scale", "fn-go", "--replicas", "2")
	waitAvailable(t, s, "fn-go", "", 2)
	logs := c.run("", "logs", "fn-go", "--follow=false")
	if strings.TrimSpace(logs) == "" {
		t.Errorf("logs printed nothing")
	}

	c.run("", "secret", "create", "api-key", "--from-literal", "s3cr3t")
	if out := c.run("", "secret", "list"); !strings.Contains(out, "api-key") || strings.Contains(out, "s3cr3t") {
		t.Errorf("secret list: %q", out)
	}
	c.run("", "remove", "fn-go")
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if r := s.call("GET", "/system/function/fn-go", nil, true); r.Code != 404 {
			return &cliError{"fn-go still there: " + r.String()}
		}
		return nil
	})
	_, errOut, err := c.exec("", "invoke", "fn-go")
	if err == nil || !strings.Contains(errOut, "404") {
		t.Errorf("invoke of a removed function: err %v, stderr %q", err, errOut)
	}
}

// TestCLIStoreDeploy deploys a function of the built-in store: its image is
// built from the store's sources and pushed to the server.
func TestCLIStoreDeploy(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--autoscale=false")
	c := newCLI(t, s)
	c.run(s.Pass+"\n", "login", "-u", "admin", "--password-stdin")
	if out := c.run("", "store", "list"); !strings.Contains(out, "sha512sum") {
		t.Fatalf("store list lacks sha512sum:\n%s", out)
	}
	c.run("", "store", "deploy", "sha512sum")
	c.invokeUntil("sha512sum", "abc", "ddaf35a193617aba")
}

// TestCLIWatch keeps `gofaas up --watch` running and checks that saving the
// handler redeploys the function.
func TestCLIWatch(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--autoscale=false")
	c := newCLI(t, s)
	c.run(s.Pass+"\n", "login", "-u", "admin", "--password-stdin")
	c.run("", "new", "watched", "--lang", "golang-http")

	cmd := exec.Command(filepath.Join(bin, "gofaas"), "up", "--watch")
	cmd.Dir, cmd.Env = c.project, c.env
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("gofaas up --watch printed:\n%s", out.tail(4000))
		}
	})
	c.invokeUntil("watched", "ping", before)

	src := filepath.Join(c.project, "watched", "handler.go")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, bytes.Replace(data, []byte(before), []byte(after), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	c.invokeUntil("watched", "ping", after)
}

// TestCLIDockerBuilder builds with the real Docker engine (`docker build` of
// the handler's Dockerfile, lang dockerfile), pushes the image to the
// server's registry and deploys it. The engine here can pull no base image,
// so the Dockerfile starts FROM scratch with a static handler.
func TestCLIDockerBuilder(t *testing.T) {
	if err := exec.Command("docker", "version").Run(); err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "server", "--port", "0", "--data-dir", dataDir, "--autoscale=false")
	c := newCLI(t, s)
	c.run(s.Pass+"\n", "login", "-u", "admin", "--password-stdin")
	c.run("", "new", "boxed", "--lang", "dockerfile")
	dir := filepath.Join(c.project, "boxed")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), "./examples/hello")
	build.Dir, build.Env = repoRoot, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the handler: %v\n%s", err, out)
	}
	dockerfile := "FROM scratch\nCOPY fwatchdog /usr/bin/fwatchdog\nCOPY handler /home/app/handler\n" +
		"ENV fprocess=./handler mode=http upstream_url=http://127.0.0.1:8082\nWORKDIR /home/app\nENTRYPOINT [\"/usr/bin/fwatchdog\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", "boxed:latest").Run() })
	c.run("", "up", "--builder", "docker")
	c.invokeUntil("boxed", "from docker", `"body":"from docker"`)
}
