// Package providertest is the conformance suite every back-end runs: Run
// drives a provider.Provider through deploy, update, list, scale, resolve,
// invoke and remove, and through the optional secrets, namespaces and logs
// interfaces when the back-end implements them.
//
// It imports internal/provider, pkg/api and the standard library (testing
// included); it is only ever imported by _test.go files.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// Harness describes the back-end under test.
type Harness struct {
	// New returns a fresh, empty back-end; it registers its own cleanup.
	New func(t *testing.T) provider.Provider
	// Image is an image whose function echoes: the response body is the
	// request body, and headers X-Echo-Method, X-Echo-Path and X-Echo-Query
	// carry what it saw (see Echo).
	Image string
	// ReadyTimeout bounds every wait for replicas to start or stop
	// (default 30s).
	ReadyTimeout time.Duration
	// Namespace is the back-end's default namespace (default
	// api.DefaultNamespace).
	Namespace string
}

// Echo is the function the Harness image must behave like; back-ends that
// resolve to a fixed URL (memory) serve it from an httptest server.
var Echo http.Handler = http.HandlerFunc(echo)

func echo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Echo-Method", r.Method)
	w.Header().Set("X-Echo-Path", r.URL.Path)
	w.Header().Set("X-Echo-Query", r.URL.RawQuery)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	body, err := io.ReadAll(r.Body) // all of it before answering: HTTP/1 is not full duplex
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write(body)
}

// suite carries the harness with its defaults filled in.
type suite struct {
	Harness
}

// Run runs every conformance case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.ReadyTimeout <= 0 {
		h.ReadyTimeout = 30 * time.Second
	}
	if h.Namespace == "" {
		h.Namespace = api.DefaultNamespace
	}
	s := suite{h}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"DeployFields", s.deployFields},
		{"DeployTwice", s.deployTwice},
		{"UpdateAbsent", s.updateAbsent},
		{"UpdateKeepsReplicas", s.updateKeepsReplicas},
		{"BadNames", s.badNames},
		{"MissingSecret", s.missingSecret},
		{"MissingNamespace", s.missingNamespace},
		{"Scale", s.scale},
		{"ScaleToZero", s.scaleToZero},
		{"Invoke", s.invoke},
		{"Remove", s.remove},
		{"Namespaces", s.namespaces},
		{"Secrets", s.secrets},
		{"Logs", s.logs},
	}
	for _, c := range cases {
		t.Run(c.name, c.run)
	}
}

// CheckFor polls f every 50ms until it returns nil or timeout passes, then
// fails with f's last error. Back-end tests use it to wait for replicas.
func CheckFor(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s suite) deployment(name string) api.FunctionDeployment {
	return api.FunctionDeployment{Service: name, Image: s.Image, Namespace: s.Namespace}
}

// deploy deploys fn and waits until all its replicas are available.
func (s suite) deploy(t *testing.T, p provider.Provider, fn api.FunctionDeployment) {
	t.Helper()
	if err := p.Deploy(t.Context(), fn); err != nil {
		t.Fatalf("Deploy(%s): %v", fn.Service, err)
	}
	s.waitAvailable(t, p, fn.Service, fn.Namespace, 0)
}

// waitAvailable waits until name has want available replicas (want 0:
// as many as desired, at least one).
func (s suite) waitAvailable(t *testing.T, p provider.Provider, name, ns string, want uint64) {
	t.Helper()
	CheckFor(t, s.ReadyTimeout, func() error {
		st, err := p.Function(t.Context(), name, ns, false)
		if err != nil {
			return err
		}
		target := want
		if target == 0 {
			target = max(st.Replicas, 1)
		}
		if st.Replicas != target || st.AvailableReplicas != target {
			return fmt.Errorf("function %s: %d replicas, %d available, want %d", name, st.Replicas, st.AvailableReplicas, target)
		}
		return nil
	})
}

// invoke sends one request through Resolve, as the proxy does.
func invoke(ctx context.Context, p provider.Provider, name, ns, method, sub, query, body string) (*http.Response, string, error) {
	target, err := p.Resolve(ctx, name, ns)
	if err != nil {
		return nil, "", err
	}
	if target.Done != nil {
		defer target.Done()
	}
	u := *target.URL
	u.Path = strings.TrimSuffix(u.Path, "/") + sub
	u.RawPath = ""
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "text/plain")
	client := &http.Client{Transport: target.Transport}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// unavailable checks that name cannot be invoked: Resolve fails with
// wantErr, or (for back-ends that resolve without a round trip) the target
// answers wantCode.
func unavailable(ctx context.Context, p provider.Provider, name, ns string, wantErr error, wantCode int) error {
	resp, _, err := invoke(ctx, p, name, ns, "GET", "/", "", "")
	switch {
	case errors.Is(err, wantErr):
		return nil
	case err != nil:
		return fmt.Errorf("resolve: %w; want %w", err, wantErr)
	case resp.StatusCode != wantCode:
		return fmt.Errorf("invocation answered %s; want %w or %d", resp.Status, wantErr, wantCode)
	}
	return nil
}
