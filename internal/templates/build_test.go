package templates

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/store"
)

// runCase is one handler run with its template, as the local builder and
// the process back-end would: template files at the root of a build
// context, the handler in ./function, the build commands run there, the
// included paths copied to an app folder and fprocess started in it.
type runCase struct {
	name  string
	lang  string
	store string // store handler folder; "" runs the template's scaffold
	// For http mode: the request to send.
	method, path, body, contentType string
	chunked                         bool
	// For the forking modes: the environment besides the template's.
	env []string
	// What the answer must hold.
	wantStatus int
	wantType   string
	wantBody   string   // exact, when set
	contains   []string // substrings
}

func TestTemplatesRun(t *testing.T) {
	abcSum := sha512.Sum512([]byte("abc"))
	cases := []runCase{
		{name: "golang-http scaffold", lang: "golang-http", method: "POST", path: "/x", body: "abc",
			contains: []string{"Hello from gofaas! You sent 3 bytes to POST /x"}},
		{name: "go scaffold", lang: "go", body: "abc", wantBody: "Hello from gofaas! You said: abc\n"},
		{name: "python3-http scaffold", lang: "python3-http", method: "POST", path: "/p", body: "abcd",
			wantType: "text/plain", contains: []string{"Hello from gofaas! You sent 4 bytes to POST /p"}},
		{name: "python3-http chunked body", lang: "python3-http", method: "PUT", path: "/", body: "chunked!", chunked: true,
			contains: []string{"You sent 8 bytes to PUT /"}},
		{name: "node-http scaffold", lang: "node-http", method: "GET", path: "/n?x=1",
			wantType: "application/json", wantBody: `{"message":"Hello from gofaas!","method":"GET","path":"/n","query":{"x":"1"}}`},
		{name: "bash-streaming scaffold", lang: "bash-streaming", body: "abc", env: []string{"Http_Method=POST", "Http_Path=/b"},
			wantBody: "Hello from gofaas! You sent 3 bytes to POST /b.\n"},
		{name: "store echo", lang: "golang-http", store: "echo", method: "POST", path: "/", body: "ping pong",
			contentType: "text/x-test", wantType: "text/x-test", wantBody: "ping pong"},
		{name: "store sha512sum", lang: "go", store: "sha512sum", body: "abc", wantBody: hex.EncodeToString(abcSum[:]) + "\n"},
		{name: "store banner", lang: "golang-http", store: "banner", method: "POST", path: "/", body: "Hi!",
			wantBody: "#   # ##### #\n#   #   #   #\n#####   #   #\n#   #   #\n#   # ##### #\n"},
		{name: "store markdown", lang: "python3-http", store: "markdown", method: "POST", path: "/",
			body:     "# Title\n\nSome *em*, **strong**, `a<b` and [a link](https://example.com).\n\n- one\n- two\n\n```\nx < y\n```\n<script>\n",
			wantType: "text/html", wantBody: "<h1>Title</h1>\n" +
				`<p>Some <em>em</em>, <strong>strong</strong>, <code>a&lt;b</code> and <a href="https://example.com">a link</a>.</p>` + "\n" +
				"<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n<pre><code>x &lt; y\n</code></pre>\n<p>&lt;script&gt;</p>\n"},
		{name: "store env", lang: "bash-streaming", store: "env", body: "ignored", env: []string{"Http_Method=GET", "GREETING=hi there"},
			contains: []string{"\nGREETING=hi there\n", "\nHttp_Method=GET\n", "\nmode=streaming\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := Find("", c.lang)
			if err != nil {
				t.Fatal(err)
			}
			skipUnlessRunnable(t, tpl)
			app := buildApp(t, tpl, handlerFS(t, tpl, c.store))
			if tpl.Local.Env["mode"] == "http" {
				checkHTTP(t, c, startServer(t, tpl, app))
				return
			}
			checkOutput(t, c, runOnce(t, tpl, app, c))
		})
	}
}

// skipUnlessRunnable skips Go templates under -short (they compile) and
// templates whose interpreter is not installed.
func skipUnlessRunnable(t *testing.T, tpl *Template) {
	t.Helper()
	if tpl.Local == nil {
		t.Fatalf("template %s has no gofaas block", tpl.Language)
	}
	if len(tpl.Local.Build) > 0 {
		if testing.Short() {
			t.Skip("compiles a Go program; skipped under -short")
		}
		if _, err := exec.LookPath(tpl.Local.Build[0][0]); err != nil {
			t.Skipf("%s is not installed", tpl.Local.Build[0][0])
		}
	}
	if req := tpl.Local.Requires; req != "" {
		if _, err := exec.LookPath(req); err != nil {
			t.Skipf("%s is not installed", req)
		}
	}
}

func handlerFS(t *testing.T, tpl *Template, storeHandler string) fs.FS {
	t.Helper()
	if storeHandler != "" {
		h, err := store.Handler(storeHandler)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h, err := fs.Sub(tpl.FS, tpl.HandlerFolder)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// buildApp lays out the build context, runs the build commands (with no
// module proxy and no toolchain download: the handler must need neither)
// and returns a folder holding only the included paths.
func buildApp(t *testing.T, tpl *Template, handler fs.FS) string {
	t.Helper()
	ctx := t.TempDir()
	if err := os.CopyFS(ctx, tpl.FS); err != nil {
		t.Fatal(err)
	}
	fnDir := filepath.Join(ctx, tpl.HandlerFolder)
	if err := os.RemoveAll(fnDir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(fnDir, handler); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off", "GOFLAGS=-mod=readonly")
	for _, argv := range tpl.Local.Build {
		cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = ctx, env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	app := t.TempDir()
	for _, p := range tpl.Local.Include {
		src := filepath.Join(ctx, filepath.FromSlash(p))
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatalf("included path %s: %v", p, err)
		}
		if fi.IsDir() {
			err = os.CopyFS(filepath.Join(app, p), os.DirFS(src))
		} else {
			err = copyExecutable(src, filepath.Join(app, p), fi.Mode())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return app
}

func copyExecutable(src, dst string, mode fs.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, mode.Perm())
}

// command returns fprocess as the watchdog would start it in app, with the
// template's environment plus extra.
func command(t *testing.T, tpl *Template, app string, extra ...string) *exec.Cmd {
	argv := strings.Fields(tpl.FProcess)
	cmd := exec.CommandContext(t.Context(), argv[0], argv[1:]...)
	cmd.Dir = app
	cmd.Env = os.Environ()
	for k, v := range tpl.Local.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// startServer starts an http-mode program on a free port given in
// $http_port and waits until it answers.
func startServer(t *testing.T, tpl *Template, app string) string {
	t.Helper()
	port := freePort(t)
	cmd := command(t, tpl, app, "http_port="+port)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Wait() // killed when t.Context() is cancelled
		if t.Failed() {
			t.Logf("function output:\n%s", stderr.String())
		}
	})
	base := "http://127.0.0.1:" + port
	checkFor(t, 20*time.Second, func() error {
		resp, err := http.Get(base + "/_/probe")
		if err != nil {
			return err
		}
		return resp.Body.Close()
	})
	return base
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// checkFor calls f until it returns nil, failing the test when total
// passes first.
func checkFor(t *testing.T, total time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", total, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type answer struct {
	status      int
	contentType string
	body        string
}

func checkHTTP(t *testing.T, c runCase, base string) {
	t.Helper()
	var body io.Reader = strings.NewReader(c.body)
	if c.chunked {
		body = io.MultiReader(body) // hides the length: sent chunked
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, c, answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(data)})
}

// runOnce runs a forking-mode program once with the body on stdin.
func runOnce(t *testing.T, tpl *Template, app string, c runCase) answer {
	t.Helper()
	cmd := command(t, tpl, app, c.env...)
	cmd.Stdin = strings.NewReader(c.body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tpl.FProcess, err, stderr.String())
	}
	return answer{status: http.StatusOK, body: string(out)}
}

func checkOutput(t *testing.T, c runCase, a answer) {
	t.Helper()
	if len(c.contains) > 0 {
		a.body = "\n" + a.body // lets a substring anchor at a line start
	}
	checkAnswer(t, c, a)
}

func checkAnswer(t *testing.T, c runCase, a answer) {
	t.Helper()
	want := c.wantStatus
	if want == 0 {
		want = http.StatusOK
	}
	if a.status != want {
		t.Errorf("status %d, want %d; body %q", a.status, want, a.body)
	}
	if !strings.HasPrefix(a.contentType, c.wantType) {
		t.Errorf("Content-Type %q, want %q", a.contentType, c.wantType)
	}
	if c.wantBody != "" && a.body != c.wantBody {
		t.Errorf("body:\n%s\nwant:\n%s", a.body, c.wantBody)
	}
	for _, s := range c.contains {
		if !strings.Contains(a.body, s) {
			t.Errorf("body lacks %q:\n%s", s, a.body)
		}
	}
}

// TestStoreMatchesTemplates checks that each store function names a
// built-in template and the fprocess that template runs.
func TestStoreMatchesTemplates(t *testing.T) {
	var doc struct {
		Functions []struct {
			Name     string `json:"name"`
			FProcess string `json:"fprocess"`
			Gofaas   struct {
				Lang    string `json:"lang"`
				Handler string `json:"handler"`
			} `json:"gofaas"`
		} `json:"functions"`
	}
	if err := json.Unmarshal(store.Functions(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, fn := range doc.Functions {
		tpl, err := Find("", fn.Gofaas.Lang)
		if errors.Is(err, ErrUnknownLanguage) || (err == nil && tpl.Local == nil) {
			t.Errorf("%s: template %q cannot be built by the local builder", fn.Name, fn.Gofaas.Lang)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fn.FProcess != tpl.FProcess {
			t.Errorf("%s: fprocess %q, template %s runs %q", fn.Name, fn.FProcess, tpl.Language, tpl.FProcess)
		}
	}
}
