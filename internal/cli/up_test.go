package cli

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gofaas/gofaas/internal/cli/config"
	"github.com/gofaas/gofaas/internal/registry"
	"github.com/gofaas/gofaas/internal/stack"
)

// The credentials of the fake gateways with a registry.
const (
	gwUser     = "admin"
	gwPassword = "s3cret"
)

// registryGateway is a fakeGateway that also serves an embedded registry
// at /v2/ behind basic auth, as gofaas gateway does.
type registryGateway struct {
	*fakeGateway
	reg *registry.Registry
	url string
}

func newRegistryGateway(t *testing.T, routes map[string]route) *registryGateway {
	t.Helper()
	reg, err := registry.New(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g := &registryGateway{fakeGateway: newFakeGateway(t, routes), reg: reg}
	api := g.fakeGateway.srv.Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v2/") {
			api.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		user, pass, ok := r.BasicAuth()
		if !ok || user != gwUser || subtle.ConstantTimeCompare([]byte(pass), []byte(gwPassword)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
			http.Error(w, "invalid credentials", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *registryGateway) URL() string { return g.url }

// host is the gateway's host:port, the registry images are pushed to.
func (g *registryGateway) host() string { return strings.TrimPrefix(g.url, "http://") }

// manifest asks the registry for repo:tag and returns the digest it
// answers with, or "" when it has no such manifest.
func (g *registryGateway) manifest(repo, tag string) string {
	r := httptest.NewRequest(http.MethodHead, "/v2/"+repo+"/manifests/"+tag, nil)
	r.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	w := httptest.NewRecorder()
	g.reg.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return ""
	}
	return w.Header().Get("Docker-Content-Digest")
}

// catalog lists the registry's repositories.
func (g *registryGateway) catalog() string {
	w := httptest.NewRecorder()
	g.reg.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v2/_catalog", nil))
	return strings.TrimSpace(w.Body.String())
}

// login saves credentials for gw in the fake home, as `gofaas login` does.
func (e *env) login(t *testing.T, gw, user, password string) {
	t.Helper()
	writeConfig(t, filepath.Join(e.home, ".openfaas"),
		"auths:\n- gateway: "+gw+"\n  auth: basic\n  token: "+config.EncodeBasic(user, password)+"\n")
}

// deployCalls are the /system/functions requests a gateway received.
func deployCalls(g *fakeGateway) []seenRequest {
	var out []seenRequest
	for _, r := range g.requests() {
		if r.Path == "/system/functions" {
			out = append(out, r)
		}
	}
	return out
}

func basicAuth(user, password string) string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, password)
	return r.Header.Get("Authorization")
}

func TestUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		reply map[string]route
		calls []string
	}{
		{"update existing", map[string]route{"PUT /system/functions": {202, "", nil}},
			[]string{"PUT /system/functions"}},
		{"create missing", map[string]route{"POST /system/functions": {202, "", nil}},
			[]string{"PUT /system/functions", "POST /system/functions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newRegistryGateway(t, tt.reply)
			e := newBuildEnv(t, gw.URL())
			e.login(t, gw.URL(), gwUser, gwPassword)
			e.mustRun(t, "new", "hello", "--lang", "python3-http", "-q")
			e.out.Reset()
			out := e.mustRun(t, "up", "--builder", "local")

			digest := gw.manifest("hello", "latest")
			if digest == "" {
				t.Fatalf("the gateway's registry has no hello:latest; catalog %s\nstderr:\n%s", gw.catalog(), e.errOut)
			}
			if want := "Pushed: " + gw.host() + "/hello:latest@" + digest + "\n"; !strings.Contains(out, want) {
				t.Errorf("output:\n%s\nwant %q", out, want)
			}
			if want := "Deploying: hello.\nDeployed. 202 Accepted.\nURL: " + gw.URL() + "/function/hello\n"; !strings.Contains(out, want) {
				t.Errorf("output:\n%s\nwant %q", out, want)
			}
			deploys := deployCalls(gw.fakeGateway)
			var calls []string
			for _, r := range deploys {
				calls = append(calls, r.Method+" "+r.Path)
				jsonBody(t, r.Body, map[string]any{"service": "hello", "image": "hello:latest"})
				if r.Auth != basicAuth(gwUser, gwPassword) {
					t.Errorf("%s %s sent Authorization %q", r.Method, r.Path, r.Auth)
				}
			}
			sameList(t, "deploy calls", calls, tt.calls)
		})
	}
}

func TestUpSkips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		flag             string
		pushed, deployed bool
	}{
		{"--skip-push", "--skip-push", false, true},
		{"--skip-deploy", "--skip-deploy", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
			e := newBuildEnv(t, gw.URL())
			e.login(t, gw.URL(), gwUser, gwPassword)
			e.pythonProject(t)
			out := e.mustRun(t, "up", "--builder", "local", tt.flag)
			loadBuilt(t, e, "hello:latest")
			if pushed := gw.manifest("hello", "latest") != ""; pushed != tt.pushed || strings.Contains(out, "Pushed:") != tt.pushed {
				t.Errorf("pushed = %v, want %v; output:\n%s", pushed, tt.pushed, out)
			}
			if deployed := len(deployCalls(gw.fakeGateway)) > 0; deployed != tt.deployed || strings.Contains(out, "Deploying:") != tt.deployed {
				t.Errorf("deployed = %v, want %v; output:\n%s", deployed, tt.deployed, out)
			}
		})
	}
}

func TestUpPushErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image, password string
		want                  []string
	}{
		{"image naming another registry", "localhost:1/x:1", gwPassword,
			[]string{"pushing hello: pushing localhost:1/x:1:", "connection refused"}},
		{"wrong gateway credentials", "hello:latest", "wrong",
			[]string{"pushing hello: pushing 127.0.0.1:", "/hello:latest", "401"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
			e := newBuildEnv(t, gw.URL())
			e.login(t, gw.URL(), gwUser, tt.password)
			e.pythonProject(t)
			e.write(t, "stack.yaml", strings.Replace(pythonStack, "image: hello:latest", "image: "+tt.image, 1))
			err := e.run(t, "up", "--builder", "local")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v\nwant %q", err, w)
				}
			}
			if calls := deployCalls(gw.fakeGateway); len(calls) != 0 {
				t.Errorf("deployed after a failed push: %v", gw.calls())
			}
			if c := gw.catalog(); c != `{"repositories":[]}` {
				t.Errorf("registry catalog = %s, want it empty", c)
			}
		})
	}
}

func TestPush(t *testing.T) {
	t.Parallel()
	gw := newRegistryGateway(t, nil)
	e := newBuildEnv(t, gw.URL())
	e.login(t, gw.URL(), gwUser, gwPassword)
	e.pythonProject(t)
	if err := e.run(t, "push"); err == nil || !strings.Contains(err.Error(), "run `gofaas build` first") {
		t.Errorf("push before build: %v", err)
	}
	e.mustRun(t, "build", "--builder", "local")
	e.out.Reset()
	out := e.mustRun(t, "push")
	digest := gw.manifest("hello", "latest")
	if digest == "" || out != "Pushed: "+gw.host()+"/hello:latest@"+digest+"\n" {
		t.Errorf("registry digest %q; output %q", digest, out)
	}
	if calls := deployCalls(gw.fakeGateway); len(calls) != 0 {
		t.Errorf("push deployed: %v", gw.calls())
	}
}

func TestGatewayRegistry(t *testing.T) {
	t.Parallel()
	withRegistry := newRegistryGateway(t, nil)
	plain := newFakeGateway(t, nil)
	lookalike := newFakeGateway(t, map[string]route{"GET /v2/": {200, "{}", nil}})
	teapot := newFakeGateway(t, map[string]route{"GET /v2/": {418, "", map[string]string{"Docker-Distribution-API-Version": "registry/2.0"}}})
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name, gateway, user, password, want string
	}{
		{"registry, credentials", withRegistry.URL(), gwUser, gwPassword, withRegistry.host()},
		{"registry, wrong credentials (401)", withRegistry.URL(), gwUser, "nope", withRegistry.host()},
		{"registry, trailing slash", withRegistry.URL() + "/", "", "", withRegistry.host()},
		{"gateway without registry (404)", plain.URL(), gwUser, gwPassword, ""},
		{"200 without the registry header", lookalike.URL(), "", "", ""},
		{"registry header on another status", teapot.URL(), "", "", ""},
		{"nothing listening", closed.URL, "", "", ""},
		{"not a URL", "::", "", "", ""},
	}
	for _, tt := range tests {
		got := gatewayRegistry(t.Context(), &http.Client{}, tt.gateway, tt.user, tt.password)
		if got != tt.want {
			t.Errorf("%s: gatewayRegistry = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPushTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		registry, image, dest string
		withCredentials       bool
	}{
		{"", "hello:latest", "hello:latest", false},
		{"", "me/hello:1", "me/hello:1", false},
		{"127.0.0.1:8080", "hello:latest", "127.0.0.1:8080/hello:latest", true},
		{"127.0.0.1:8080", "me/hello:1", "127.0.0.1:8080/me/hello:1", true},
		{"127.0.0.1:8080", "ghcr.io/me/hello:1", "ghcr.io/me/hello:1", false},
		{"127.0.0.1:8080", "localhost:1/x:1", "localhost:1/x:1", false},
		{"127.0.0.1:8080", "localhost/x:1", "localhost/x:1", false},
		{"127.0.0.1:8080", "127.0.0.1:8080/x:1", "127.0.0.1:8080/x:1", true},
	}
	for _, tt := range tests {
		pt := pushTarget{Registry: tt.registry, User: "u", Password: "p"}
		dest := pt.destination(tt.image)
		user, pw := pt.credentials(dest)
		if dest != tt.dest || (user == "u" && pw == "p") != tt.withCredentials || (user == "") == tt.withCredentials {
			t.Errorf("registry %q, image %q: destination %q with %q/%q; want %q, gateway credentials %v",
				tt.registry, tt.image, dest, user, pw, tt.dest, tt.withCredentials)
		}
	}
}

// checkFor polls f until it returns nil, failing the test with its last
// error after total.
func checkFor(t *testing.T, total time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs `gofaas args...` in the background until the returned stop
// is called; stop returns the command's error. The env's buffers must not
// be read before stop returns.
func (e *env) start(t *testing.T, args ...string) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	root := &cobra.Command{Use: "gofaas", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root, e.f)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func TestUpWatch(t *testing.T) {
	t.Parallel()
	gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newBuildEnv(t, gw.URL())
	e.login(t, gw.URL(), gwUser, gwPassword)
	e.pythonProject(t)
	stop := e.start(t, "up", "--builder", "local", "--watch")
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	deploys := func() int { return len(deployCalls(gw.fakeGateway)) }
	checkFor(t, 10*time.Second, func() error {
		if deploys() == 0 {
			return fmt.Errorf("up --watch did not deploy")
		}
		return nil
	})
	first := gw.manifest("hello", "latest")
	// The watcher may not have taken its first look yet when the first
	// deploy is seen, so the handler is rewritten until a redeploy.
	edits := 0
	checkFor(t, 10*time.Second, func() error {
		if deploys() > 1 {
			return nil
		}
		edits++
		e.writeFiles(t, map[string]string{"hello/handler.py": "def handle(event, context):\n    return 'edit " + strings.Repeat("!", edits) + "'\n"})
		return fmt.Errorf("no redeploy after %d edits", edits)
	})
	stopped = true
	if err := stop(); err != nil {
		t.Errorf("up --watch ended with %v", err)
	}
	if second := gw.manifest("hello", "latest"); second == first || second == "" {
		t.Errorf("the changed handler was not pushed: digest %s, then %s", first, second)
	}
	if !strings.Contains(e.errOut.String(), "Watching the handlers for changes; Ctrl-C stops.\nhello changed; rebuilding.\n") {
		t.Errorf("stderr:\n%s", e.errOut)
	}
}

func TestHandlerState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := &project{dir: dir}
	fn := stack.Function{Name: "hello", Handler: "./hello"}
	write := func(name, data string) {
		t.Helper()
		path := filepath.Join(dir, "hello", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("handler.py", "v1")
	write("lib/util.py", "u")
	steps := []struct {
		name    string
		change  func()
		changes bool
	}{
		{"nothing", func() {}, false},
		{"build/ written", func() { write("build/out.bin", "x") }, false},
		{"template/ written", func() { write("template/python3-http/template.yml", "x") }, false},
		{"hidden folder written", func() { write(".git/HEAD", "x") }, false},
		{"file written", func() { write("handler.py", "version 2") }, true},
		{"nested file written", func() { write("lib/util.py", "util v2") }, true},
		{"file added", func() { write("extra.txt", "x") }, true},
		{"file removed", func() { os.Remove(filepath.Join(dir, "hello", "extra.txt")) }, true},
		{"folder removed", func() { os.RemoveAll(filepath.Join(dir, "hello", "lib")) }, true},
	}
	last := handlerState(p, fn)
	if last == "" {
		t.Fatal("empty state for a handler with files")
	}
	for _, s := range steps {
		s.change()
		state := handlerState(p, fn)
		if (state != last) != s.changes {
			t.Errorf("%s: state changed = %v, want %v", s.name, state != last, s.changes)
		}
		last = state
	}
	fn.SkipBuild = true
	if handlerState(p, fn) != "" {
		t.Error("skip_build function has a state")
	}
}

func TestPushTargetWithoutRegistry(t *testing.T) {
	t.Parallel()
	// Against a gateway without a registry an image naming no host goes to
	// Docker Hub, so this checks where it would go without pushing it.
	gw := newFakeGateway(t, nil)
	e := newEnv(t, gw.URL(), "")
	e.login(t, gw.URL(), gwUser, gwPassword)
	pt, err := e.f.pushTarget(t.Context(), GatewayFlags{}, &stack.File{})
	if err != nil || pt.Registry != "" || pt.Gateway != gw.URL() {
		t.Fatalf("push target %+v, %v", pt, err)
	}
	if dest := pt.destination("hello:latest"); dest != "hello:latest" {
		t.Errorf("destination %q, want the image as named", dest)
	}
	if user, _ := pt.credentials("hello:latest"); user != "" {
		t.Errorf("the gateway's credentials would go to another registry")
	}
}

func TestUpTagSha(t *testing.T) {
	t.Parallel()
	gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newBuildEnv(t, gw.URL())
	e.login(t, gw.URL(), gwUser, gwPassword)
	e.pythonProject(t)
	tag := "latest-" + gitCommitAll(t, e.work).String()[:7]
	e.mustRun(t, "up", "--builder", "local", "--tag", "sha")
	if gw.manifest("hello", tag) == "" || gw.manifest("hello", "latest") != "" {
		t.Errorf("registry catalog %s: want hello:%s only", gw.catalog(), tag)
	}
	jsonBody(t, deployCalls(gw.fakeGateway)[0].Body, map[string]any{"service": "hello", "image": "hello:" + tag})
}
