package memory

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/internal/provider/providertest"
	"github.com/gofaas/gofaas/pkg/api"
)

func newMemory(t *testing.T) *Memory {
	t.Helper()
	echo := httptest.NewServer(providertest.Echo)
	t.Cleanup(echo.Close)
	u, err := url.Parse(echo.URL)
	if err != nil {
		t.Fatal(err)
	}
	return New(u)
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:   func(t *testing.T) provider.Provider { return newMemory(t) },
		Image: "ghcr.io/gofaas/echo:latest",
	})
}

func TestLogs(t *testing.T) {
	m := newMemory(t)
	ctx := t.Context()
	ns := api.DefaultNamespace
	if err := m.Deploy(ctx, api.FunctionDeployment{Service: "fn", Image: "img", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, text := range []string{"one", "two", "three"} {
		m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Instance: "a", Timestamp: t0.Add(time.Duration(i) * time.Second), Text: text})
	}
	m.AppendLog(api.LogMessage{Name: "other", Namespace: ns, Text: "not mine"})
	since := t0.Add(time.Second)
	tests := []struct {
		name string
		req  api.LogRequest
		want []string
	}{
		{"all", api.LogRequest{}, []string{"one", "two", "three"}},
		{"tail", api.LogRequest{Tail: 2}, []string{"two", "three"}},
		{"since", api.LogRequest{Since: &since}, []string{"two", "three"}},
		{"other instance", api.LogRequest{Instance: "b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Name, req.Namespace = "fn", ns
			ch, err := m.Logs(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for msg := range ch {
				got = append(got, msg.Text)
			}
			if !equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := m.Logs(ctx, api.LogRequest{Name: "absent", Namespace: ns}); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Logs of an absent function: %v, want ErrNotFound", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLogsFollow(t *testing.T) {
	m := newMemory(t)
	ns := api.DefaultNamespace
	if err := m.Deploy(t.Context(), api.FunctionDeployment{Service: "fn", Image: "img", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Text: "old"})
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := m.Logs(ctx, api.LogRequest{Name: "fn", Namespace: ns, Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	if msg := <-ch; msg.Text != "old" {
		t.Fatalf("first line %q, want old", msg.Text)
	}
	m.AppendLog(api.LogMessage{Name: "other", Namespace: ns, Text: "skip"})
	m.AppendLog(api.LogMessage{Name: "fn", Namespace: ns, Text: "new"})
	if msg := <-ch; msg.Text != "new" || msg.Timestamp.IsZero() {
		t.Fatalf("followed line %+v, want new with a timestamp", msg)
	}
	cancel()
	for range ch {
	}
	providertest.CheckFor(t, 10*time.Second, func() error {
		if n := m.followerCount(); n != 0 {
			return errors.New("follower still registered")
		}
		return nil
	})
}

// TestConcurrent runs mixed operations from many goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	m := newMemory(t)
	ctx := t.Context()
	ns := api.DefaultNamespace
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := "fn-" + string(rune('a'+i))
			fn := api.FunctionDeployment{Service: name, Image: "img", Namespace: ns, EnvVars: map[string]string{"I": name}}
			for range 50 {
				_ = m.Deploy(ctx, fn)
				_ = m.Scale(ctx, name, ns, 2)
				_, _ = m.Resolve(ctx, name, ns)
				_, _ = m.Functions(ctx, ns)
				m.AppendLog(api.LogMessage{Name: name, Namespace: ns, Text: "x"})
				_ = m.Remove(ctx, name, ns)
			}
		})
	}
	wg.Wait()
	if list, _ := m.Functions(ctx, ns); len(list) != 0 {
		t.Errorf("%d functions left", len(list))
	}
}

func TestNoAliasing(t *testing.T) {
	m := newMemory(t)
	ctx := t.Context()
	fn := api.FunctionDeployment{Service: "fn", Image: "img", Namespace: api.DefaultNamespace,
		EnvVars: map[string]string{"A": "1"}, Limits: &api.FunctionResources{Memory: "1Mi"}}
	if err := m.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	fn.EnvVars["A"] = "changed"
	fn.Limits.Memory = "changed"
	st, _ := m.Function(ctx, "fn", api.DefaultNamespace, false)
	st.EnvVars["B"] = "added"
	st2, _ := m.Function(ctx, "fn", api.DefaultNamespace, true)
	if st2.EnvVars["A"] != "1" || st2.Limits.Memory != "1Mi" || len(st2.EnvVars) != 1 {
		t.Errorf("stored deployment changed through a caller's maps: %+v %+v", st2.EnvVars, st2.Limits)
	}
	if st2.Usage == nil {
		t.Error("usage requested but missing")
	}
}

func TestNamespaceRules(t *testing.T) {
	m := newMemory(t)
	ctx := t.Context()
	marked := map[string]string{"openfaas": "1"}
	tests := []struct {
		name string
		err  error
		do   func() error
	}{
		{"kube-system refused", provider.ErrInvalid, func() error {
			return m.CreateNamespace(ctx, api.FunctionNamespace{Name: "kube-system", Labels: marked})
		}},
		{"wrong marker", provider.ErrInvalid, func() error {
			return m.CreateNamespace(ctx, api.FunctionNamespace{Name: "x", Labels: map[string]string{"openfaas": "true"}})
		}},
		{"default kept", provider.ErrInvalid, func() error { return m.DeleteNamespace(ctx, api.DefaultNamespace) }},
		{"update absent", provider.ErrNotFound, func() error {
			return m.UpdateNamespace(ctx, api.FunctionNamespace{Name: "absent", Labels: marked})
		}},
		{"non-empty kept", provider.ErrInvalid, func() error {
			if err := m.CreateNamespace(ctx, api.FunctionNamespace{Name: "busy", Labels: marked}); err != nil {
				return err
			}
			if err := m.Deploy(ctx, api.FunctionDeployment{Service: "fn", Image: "i", Namespace: "busy"}); err != nil {
				return err
			}
			return m.DeleteNamespace(ctx, "busy")
		}},
		{"list unknown namespace", provider.ErrNotFound, func() error { _, err := m.Functions(ctx, "nowhere"); return err }},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, tt.err) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestSecretValue(t *testing.T) {
	m := newMemory(t)
	ctx := t.Context()
	ns := api.DefaultNamespace
	_ = m.CreateSecret(ctx, api.Secret{Name: "a", Namespace: ns, Value: "text"})
	_ = m.CreateSecret(ctx, api.Secret{Name: "b", Namespace: ns, RawValue: []byte{1, 2}})
	if v, _ := m.SecretValue("a", ns); string(v) != "text" {
		t.Errorf("a = %q", v)
	}
	if v, _ := m.SecretValue("b", ns); string(v) != "\x01\x02" {
		t.Errorf("b = %q", v)
	}
}
