package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// seenRequest is one request the fake gateway received.
type seenRequest struct {
	Method, Path, Query, Auth string
	Header                    http.Header
	Body                      string
}

// route is the fake gateway's answer to "METHOD /path".
type route struct {
	code   int
	body   string
	header map[string]string
}

// fakeGateway records every request and answers from a table; other
// routes get 404.
type fakeGateway struct {
	mu     sync.Mutex
	seen   []seenRequest
	routes map[string]route
	srv    *httptest.Server
}

func newFakeGateway(t *testing.T, routes map[string]route) *fakeGateway {
	t.Helper()
	g := &fakeGateway{routes: routes}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.seen = append(g.seen, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Clone(), string(body)})
		rt, ok := g.routes[r.Method+" "+r.URL.Path]
		g.mu.Unlock()
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		for k, v := range rt.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rt.code)
		io.WriteString(w, rt.body)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *fakeGateway) URL() string { return g.srv.URL }

func (g *fakeGateway) requests() []seenRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]seenRequest(nil), g.seen...)
}

// calls returns "METHOD /path" of every request, in order.
func (g *fakeGateway) calls() []string {
	var out []string
	for _, r := range g.requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// env is a fake process environment: variables, a home and a project
// folder, and captured output.
type env struct {
	f           *Factory
	vars        map[string]string
	home, work  string
	out, errOut *bytes.Buffer
}

// newEnv returns a Factory whose gateway is gw (through OPENFAAS_URL) and
// whose stdin holds stdin.
func newEnv(t *testing.T, gw, stdin string) *env {
	t.Helper()
	root := t.TempDir()
	e := &env{vars: map[string]string{}, home: filepath.Join(root, "home"), work: filepath.Join(root, "project")}
	for _, d := range []string{e.home, e.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if gw != "" {
		e.vars["OPENFAAS_URL"] = gw
	}
	var ios *IOStreams
	ios, e.out, e.errOut = TestStreams(stdin)
	e.f = &Factory{
		IO:         ios,
		Getenv:     func(k string) string { return e.vars[k] },
		HomeDir:    func() (string, error) { return e.home, nil },
		WorkDir:    func() (string, error) { return e.work, nil },
		HTTPClient: func() *http.Client { return &http.Client{} },
		Version:    "1.2.3",
	}
	return e
}

// run runs `gofaas args...` with the client verbs, as main wires them.
func (e *env) run(t *testing.T, args ...string) error {
	t.Helper()
	root := &cobra.Command{Use: "gofaas", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		fmt.Fprintf(c.ErrOrStderr(), "%v\n\n%s", err, c.UsageString())
		return ErrUsage
	})
	AddCommands(root, e.f)
	root.SetArgs(args)
	return root.ExecuteContext(t.Context())
}

// mustRun runs and fails the test on an error.
func (e *env) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	if err := e.run(t, args...); err != nil {
		t.Fatalf("gofaas %s: %v\nstderr:\n%s", strings.Join(args, " "), err, e.errOut)
	}
	return e.out.String()
}

// write creates a file under the project folder.
func (e *env) write(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(e.work, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// jsonBody checks that a request body is the JSON of want.
func jsonBody(t *testing.T, got string, want any) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	wb, _ := json.Marshal(want)
	json.Unmarshal(wb, &w)
	gb, _ := json.Marshal(g)
	wb, _ = json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("body = %s\n want %s", gb, wb)
	}
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func isUsage(err error) bool { return errors.Is(err, ErrUsage) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
