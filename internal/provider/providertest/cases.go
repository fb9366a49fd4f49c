package providertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

func (s suite) deployFields(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("fields")
	fn.EnvProcess = "cat"
	fn.EnvVars = map[string]string{"A": "1", "B": "two words"}
	fn.Labels = map[string]string{"com.openfaas.scale.max": "5", "team": "blue"}
	fn.Annotations = map[string]string{"topic": "orders", "note": "x=y"}
	fn.Constraints = []string{"node.platform.os == linux"}
	fn.Limits = &api.FunctionResources{Memory: "128Mi", CPU: "500m"}
	fn.Requests = &api.FunctionResources{Memory: "64Mi", CPU: "100m"}
	fn.ReadOnlyRootFilesystem = true
	if sp, ok := p.(provider.Secrets); ok {
		err := sp.CreateSecret(t.Context(), api.Secret{Name: "db-password", Namespace: s.Namespace, Value: "s3cret"})
		if err != nil && !errors.Is(err, provider.ErrNotSupported) {
			t.Fatalf("CreateSecret: %v", err)
		}
		if err == nil {
			fn.Secrets = []string{"db-password"}
		}
	}
	before := time.Now().Add(-time.Minute)
	s.deploy(t, p, fn)

	got, err := p.Function(t.Context(), fn.Service, s.Namespace, false)
	if err != nil {
		t.Fatalf("Function: %v", err)
	}
	checkStatus(t, "Function", got, fn, before)
	list, err := p.Functions(t.Context(), s.Namespace)
	if err != nil {
		t.Fatalf("Functions: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("Functions returned %d functions, want 1: %+v", len(list), list)
	}
	checkStatus(t, "Functions", list[0], fn, before)
}

// checkStatus compares every deployed field of st with fn.
func checkStatus(t *testing.T, from string, st api.FunctionStatus, fn api.FunctionDeployment, before time.Time) {
	t.Helper()
	checks := []struct {
		field     string
		got, want any
	}{
		{"name", st.Name, fn.Service},
		{"image", st.Image, fn.Image},
		{"namespace", st.Namespace, fn.Namespace},
		{"envProcess", st.EnvProcess, fn.EnvProcess},
		{"envVars", st.EnvVars, fn.EnvVars},
		{"labels", st.Labels, fn.Labels},
		{"annotations", st.Annotations, fn.Annotations},
		{"constraints", st.Constraints, fn.Constraints},
		{"secrets", st.Secrets, fn.Secrets},
		{"limits", st.Limits, fn.Limits},
		{"requests", st.Requests, fn.Requests},
		{"readOnlyRootFilesystem", st.ReadOnlyRootFilesystem, fn.ReadOnlyRootFilesystem},
		{"replicas", st.Replicas, uint64(1)},
		{"availableReplicas", st.AvailableReplicas, uint64(1)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %s = %#v, want %#v", from, c.field, c.got, c.want)
		}
	}
	if st.CreatedAt.Before(before) || st.CreatedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("%s: createdAt = %v, want about now", from, st.CreatedAt)
	}
}

func (s suite) deployTwice(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("twice")
	s.deploy(t, p, fn)
	if err := p.Deploy(t.Context(), fn); !errors.Is(err, provider.ErrExists) {
		t.Errorf("second Deploy: %v, want ErrExists", err)
	}
}

func (s suite) updateAbsent(t *testing.T) {
	p := s.New(t)
	if err := p.Update(t.Context(), s.deployment("absent")); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Update of an absent function: %v, want ErrNotFound", err)
	}
	if _, err := p.Function(t.Context(), "absent", s.Namespace, false); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Function after a failed Update: %v, want ErrNotFound", err)
	}
}

func (s suite) updateKeepsReplicas(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("keeps")
	s.deploy(t, p, fn)
	if err := p.Scale(t.Context(), fn.Service, s.Namespace, 2); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	s.waitAvailable(t, p, fn.Service, s.Namespace, 2)
	fn.EnvVars = map[string]string{"VERSION": "2"}
	fn.Labels = map[string]string{"release": "two"}
	if err := p.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
	CheckFor(t, s.ReadyTimeout, func() error {
		st, err := p.Function(t.Context(), fn.Service, s.Namespace, false)
		switch {
		case err != nil:
			return err
		case st.Replicas != 2:
			return fmt.Errorf("replicas = %d after Update, want 2 kept", st.Replicas)
		case st.EnvVars["VERSION"] != "2" || st.Labels["release"] != "two":
			return fmt.Errorf("update not applied: envVars %v labels %v", st.EnvVars, st.Labels)
		case st.AvailableReplicas != 2:
			return fmt.Errorf("available = %d after Update, want 2", st.AvailableReplicas)
		}
		return nil
	})
}

func (s suite) badNames(t *testing.T) {
	p := s.New(t)
	for _, name := range []string{"", "Upper", "-lead", "trail-", "under_score", "dot.ted", "sl/ash", strings.Repeat("a", 64)} {
		if err := p.Deploy(t.Context(), s.deployment(name)); !errors.Is(err, provider.ErrInvalid) {
			t.Errorf("Deploy(%q): %v, want ErrInvalid", name, err)
		}
	}
	fn := s.deployment("fine")
	fn.Namespace = "Bad_NS"
	if err := p.Deploy(t.Context(), fn); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("Deploy into namespace %q: %v, want ErrInvalid", fn.Namespace, err)
	}
	fn = s.deployment("no-image")
	fn.Image = ""
	if err := p.Deploy(t.Context(), fn); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("Deploy without an image: %v, want ErrInvalid", err)
	}
	list, err := p.Functions(t.Context(), s.Namespace)
	if err != nil || len(list) != 0 {
		t.Errorf("after refused deploys Functions = %v, %v; want empty", list, err)
	}
}

func (s suite) missingSecret(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("needs-secret")
	fn.Secrets = []string{"does-not-exist"}
	if err := p.Deploy(t.Context(), fn); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("Deploy with a missing secret: %v, want ErrInvalid", err)
	}
}

func (s suite) missingNamespace(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("lost")
	fn.Namespace = "no-such-namespace"
	if err := p.Deploy(t.Context(), fn); !errors.Is(err, provider.ErrInvalid) && !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Deploy into a missing namespace: %v, want ErrInvalid or ErrNotFound", err)
	}
}

func (s suite) scale(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("scaled")
	s.deploy(t, p, fn)
	if err := p.Scale(t.Context(), fn.Service, s.Namespace, 3); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	s.waitAvailable(t, p, fn.Service, s.Namespace, 3)
	if err := p.Scale(t.Context(), "absent", s.Namespace, 1); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Scale of an absent function: %v, want ErrNotFound", err)
	}
}

func (s suite) scaleToZero(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("idle")
	s.deploy(t, p, fn)
	if err := p.Scale(t.Context(), fn.Service, s.Namespace, 0); err != nil {
		t.Fatalf("Scale to 0: %v", err)
	}
	CheckFor(t, s.ReadyTimeout, func() error {
		return unavailable(t.Context(), p, fn.Service, s.Namespace, provider.ErrNoReplicas, 503)
	})
	st, err := p.Function(t.Context(), fn.Service, s.Namespace, false)
	if err != nil || st.Replicas != 0 {
		t.Errorf("Function after scaling to 0: replicas %d, %v; want 0", st.Replicas, err)
	}
	if err := p.Scale(t.Context(), fn.Service, s.Namespace, 1); err != nil {
		t.Fatalf("Scale back to 1: %v", err)
	}
	s.waitAvailable(t, p, fn.Service, s.Namespace, 1)
}

func (s suite) invoke(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("echo")
	s.deploy(t, p, fn)
	tests := []struct{ method, sub, query, body string }{
		{"POST", "/", "", "hello"},
		{"PUT", "/a/b", "x=1&y=two%20words", strings.Repeat("payload ", 1000)},
		{"GET", "/", "q=1", ""},
		{"DELETE", "/items/7", "", ""},
	}
	for _, tt := range tests {
		var resp httpResult
		CheckFor(t, s.ReadyTimeout, func() error { // the first call may race readiness
			var err error
			resp, err = invokeOnce(t.Context(), p, fn.Service, s.Namespace, tt.method, tt.sub, tt.query, tt.body)
			return err
		})
		if resp.method != tt.method || resp.path != tt.sub || resp.query != tt.query || resp.body != tt.body {
			t.Errorf("%s %s?%s: function saw %s %s?%s with %d bytes, want %d bytes", tt.method, tt.sub, tt.query,
				resp.method, resp.path, resp.query, len(resp.body), len(tt.body))
		}
	}
}

type httpResult struct{ method, path, query, body string }

func invokeOnce(ctx context.Context, p provider.Provider, name, ns, method, sub, query, body string) (httpResult, error) {
	resp, got, err := invoke(ctx, p, name, ns, method, sub, query, body)
	if err != nil {
		return httpResult{}, err
	}
	if resp.StatusCode != 200 {
		return httpResult{}, fmt.Errorf("invocation answered %s: %s", resp.Status, got)
	}
	h := resp.Header
	return httpResult{h.Get("X-Echo-Method"), h.Get("X-Echo-Path"), h.Get("X-Echo-Query"), got}, nil
}

func (s suite) remove(t *testing.T) {
	p := s.New(t)
	fn := s.deployment("doomed")
	s.deploy(t, p, fn)
	if err := p.Remove(t.Context(), fn.Service, s.Namespace); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := p.Function(t.Context(), fn.Service, s.Namespace, false); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Function after Remove: %v, want ErrNotFound", err)
	}
	if list, err := p.Functions(t.Context(), s.Namespace); err != nil || len(list) != 0 {
		t.Errorf("Functions after Remove = %v, %v; want empty", list, err)
	}
	CheckFor(t, s.ReadyTimeout, func() error {
		return unavailable(t.Context(), p, fn.Service, s.Namespace, provider.ErrNotFound, 404)
	})
	if err := p.Remove(t.Context(), fn.Service, s.Namespace); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	s.deploy(t, p, fn) // the name is free again
}

func (s suite) namespaces(t *testing.T) {
	p := s.New(t)
	np, ok := p.(provider.Namespaces)
	if !ok {
		t.Skip("back-end does not implement provider.Namespaces")
	}
	ctx := t.Context()
	list, err := np.NamespaceList(ctx)
	if errors.Is(err, provider.ErrNotSupported) {
		t.Skip("namespaces not supported")
	}
	if err != nil || !slices.Contains(list, s.Namespace) {
		t.Fatalf("NamespaceList = %v, %v; want it to hold %q", list, err, s.Namespace)
	}
	team := api.FunctionNamespace{Name: "team-a", Labels: map[string]string{"openfaas": "1"}, Annotations: map[string]string{"owner": "alice"}}
	if err := np.CreateNamespace(ctx, team); err != nil {
		t.Fatalf("CreateNamespace: %v", err)
	}
	if err := np.CreateNamespace(ctx, team); !errors.Is(err, provider.ErrExists) {
		t.Errorf("second CreateNamespace: %v, want ErrExists", err)
	}
	unmarked := api.FunctionNamespace{Name: "unmarked", Labels: map[string]string{}}
	if err := np.CreateNamespace(ctx, unmarked); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("CreateNamespace without openfaas=1: %v, want ErrInvalid", err)
	}
	got, err := np.Namespace(ctx, "team-a")
	if err != nil || got.Name != "team-a" || got.Annotations["owner"] != "alice" || got.Labels["openfaas"] != "1" {
		t.Errorf("Namespace(team-a) = %+v, %v", got, err)
	}
	s.namespaceIsolation(t, p)
	team.Annotations = map[string]string{"owner": "bob"}
	if err := np.UpdateNamespace(ctx, team); err != nil {
		t.Errorf("UpdateNamespace: %v", err)
	}
	if got, err := np.Namespace(ctx, "team-a"); err != nil || got.Annotations["owner"] != "bob" {
		t.Errorf("after UpdateNamespace: %+v, %v", got, err)
	}
	if err := np.DeleteNamespace(ctx, "team-a"); err != nil {
		t.Fatalf("DeleteNamespace: %v", err)
	}
	if _, err := np.Namespace(ctx, "team-a"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Namespace after delete: %v, want ErrNotFound", err)
	}
	if err := np.DeleteNamespace(ctx, "team-a"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("second DeleteNamespace: %v, want ErrNotFound", err)
	}
}

// namespaceIsolation deploys the same name in the default namespace and in
// team-a and checks each list holds only its own.
func (s suite) namespaceIsolation(t *testing.T, p provider.Provider) {
	fn := s.deployment("shared-name")
	s.deploy(t, p, fn)
	fn.Namespace = "team-a"
	fn.EnvVars = map[string]string{"WHERE": "team-a"}
	s.deploy(t, p, fn)
	for _, ns := range []string{s.Namespace, "team-a"} {
		list, err := p.Functions(t.Context(), ns)
		if err != nil || len(list) != 1 || list[0].Namespace != ns {
			t.Errorf("Functions(%s) = %+v, %v; want only shared-name in %s", ns, list, err, ns)
		}
	}
	if err := p.Remove(t.Context(), "shared-name", "team-a"); err != nil {
		t.Fatalf("Remove from team-a: %v", err)
	}
	if _, err := p.Function(t.Context(), "shared-name", s.Namespace, false); err != nil {
		t.Errorf("the default namespace's function went with team-a's: %v", err)
	}
}

func (s suite) secrets(t *testing.T) {
	p := s.New(t)
	sp, ok := p.(provider.Secrets)
	if !ok {
		t.Skip("back-end does not implement provider.Secrets")
	}
	ctx, ns := t.Context(), s.Namespace
	if _, err := sp.SecretList(ctx, ns); errors.Is(err, provider.ErrNotSupported) {
		t.Skip("secrets not supported")
	}
	for _, sec := range []api.Secret{{Name: "api-key", Namespace: ns, Value: "v1"}, {Name: "cert", Namespace: ns, RawValue: []byte{0, 1, 2}}} {
		if err := sp.CreateSecret(ctx, sec); err != nil {
			t.Fatalf("CreateSecret(%s): %v", sec.Name, err)
		}
	}
	if err := sp.CreateSecret(ctx, api.Secret{Name: "api-key", Namespace: ns, Value: "again"}); !errors.Is(err, provider.ErrExists) {
		t.Errorf("second CreateSecret: %v, want ErrExists", err)
	}
	list, err := sp.SecretList(ctx, ns)
	if err != nil {
		t.Fatalf("SecretList: %v", err)
	}
	names := map[string]bool{}
	for _, sec := range list {
		names[sec.Name] = true
		if sec.Value != "" || sec.RawValue != nil {
			t.Errorf("SecretList leaked the value of %s", sec.Name)
		}
	}
	if want := map[string]bool{"api-key": true, "cert": true}; !maps.Equal(names, want) {
		t.Errorf("SecretList names = %v, want %v", names, want)
	}
	s.secretUpdates(t, sp)
}

func (s suite) secretUpdates(t *testing.T, sp provider.Secrets) {
	ctx, ns := t.Context(), s.Namespace
	if err := sp.UpdateSecret(ctx, api.Secret{Name: "api-key", Namespace: ns, Value: "v2"}); err != nil {
		t.Errorf("UpdateSecret: %v", err)
	}
	if err := sp.UpdateSecret(ctx, api.Secret{Name: "absent", Namespace: ns, Value: "x"}); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("UpdateSecret of an absent secret: %v, want ErrNotFound", err)
	}
	if err := sp.DeleteSecret(ctx, "api-key", ns); err != nil {
		t.Errorf("DeleteSecret: %v", err)
	}
	if err := sp.DeleteSecret(ctx, "api-key", ns); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("second DeleteSecret: %v, want ErrNotFound", err)
	}
	list, err := sp.SecretList(ctx, ns)
	if err != nil || len(list) != 1 || list[0].Name != "cert" {
		t.Errorf("SecretList after delete = %+v, %v; want only cert", list, err)
	}
}

func (s suite) logs(t *testing.T) {
	p := s.New(t)
	lp, ok := p.(provider.Logs)
	if !ok {
		t.Skip("back-end does not implement provider.Logs")
	}
	fn := s.deployment("chatty")
	s.deploy(t, p, fn)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch, err := lp.Logs(ctx, api.LogRequest{Name: fn.Service, Namespace: s.Namespace, Follow: true})
	if errors.Is(err, provider.ErrNotSupported) {
		t.Skip("logs not supported")
	}
	if err != nil {
		t.Fatalf("Logs(follow): %v", err)
	}
	cancel()
	drain(t, ch, s.ReadyTimeout, "a followed stream after its context ended")

	ch, err = lp.Logs(t.Context(), api.LogRequest{Name: fn.Service, Namespace: s.Namespace, Tail: 10})
	if err != nil {
		t.Fatalf("Logs(tail): %v", err)
	}
	drain(t, ch, s.ReadyTimeout, "a stream without follow")
}

// drain reads ch until it closes, failing if that takes longer than timeout.
func drain(t *testing.T, ch <-chan api.LogMessage, timeout time.Duration, what string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("%s did not close within %s", what, timeout)
		}
	}
}
