package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func deployment(name, ns string, secrets ...string) api.FunctionDeployment {
	return api.FunctionDeployment{
		Service: name, Image: "example/" + name + ":1", Namespace: ns,
		EnvProcess:  "cat",
		EnvVars:     map[string]string{"A": "1"},
		Labels:      map[string]string{"com.openfaas.scale.min": "2"},
		Annotations: map[string]string{"topic": "x"},
		Secrets:     secrets,
		Limits:      &api.FunctionResources{Memory: "128Mi", CPU: "100m"},
		Constraints: []string{"node.platform.os == linux"},
	}
}

func TestFunctionsRoundTripAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	want := Function{Deployment: deployment("fn1", api.DefaultNamespace), Replicas: 2, CreatedAt: created}
	if err := s.CreateFunction(want); err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	if err := s.CreateFunction(want); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateFunction = %v, want ErrExists", err)
	}
	if err := s.SetReplicas(api.DefaultNamespace, "fn1", 0); err != nil {
		t.Fatalf("SetReplicas: %v", err)
	}
	want.Replicas = 0
	upd := deployment("fn1", api.DefaultNamespace)
	upd.Image = "example/fn1:2"
	got, err := s.UpdateFunction(upd)
	if err != nil {
		t.Fatalf("UpdateFunction: %v", err)
	}
	want.Deployment = upd
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdateFunction = %+v, want %+v", got, want)
	}
	_ = s.Close()

	s = openStore(t, dir)
	got, err = s.Function(api.DefaultNamespace, "fn1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after reopen Function = %+v, %v; want %+v", got, err, want)
	}
	list, err := s.Functions("")
	if err != nil || len(list) != 1 {
		t.Fatalf("Functions = %v, %v", list, err)
	}
	if err := s.DeleteFunction(api.DefaultNamespace, "fn1"); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	if _, err := s.Function(api.DefaultNamespace, "fn1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Function after delete = %v, want ErrNotFound", err)
	}
}

func TestFunctionErrors(t *testing.T) {
	s := openStore(t, t.TempDir())
	if err := s.CreateSecret(api.DefaultNamespace, "s1", []byte("v")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		run     func() error
		is      error
		missing string
	}{
		{"bad name", func() error {
			return s.CreateFunction(Function{Deployment: deployment("Bad_Name", api.DefaultNamespace)})
		}, ErrInvalid, ""},
		{"path name", func() error { return s.CreateFunction(Function{Deployment: deployment("..", api.DefaultNamespace)}) }, ErrInvalid, ""},
		{"missing namespace", func() error { return s.CreateFunction(Function{Deployment: deployment("a", "nope")}) }, nil, "namespace"},
		{"missing secret", func() error {
			return s.CreateFunction(Function{Deployment: deployment("a", api.DefaultNamespace, "s1", "s2")})
		}, nil, "secret"},
		{"update absent", func() error { _, err := s.UpdateFunction(deployment("absent", api.DefaultNamespace)); return err }, ErrNotFound, ""},
		{"scale absent", func() error { return s.SetReplicas(api.DefaultNamespace, "absent", 1) }, ErrNotFound, ""},
		{"delete absent", func() error { return s.DeleteFunction(api.DefaultNamespace, "absent") }, ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			var me *MissingError
			if tt.missing != "" && (!errors.As(err, &me) || me.Kind != tt.missing) {
				t.Fatalf("err = %v, want missing %s", err, tt.missing)
			}
		})
	}
	if list, _ := s.Functions(""); len(list) != 0 {
		t.Fatalf("failed calls stored functions: %+v", list)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ns := api.DefaultNamespace
	if err := s.CreateSecret(ns, "db", []byte("pw1")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSecret(ns, "db", []byte("x")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate CreateSecret = %v", err)
	}
	if err := s.CreateSecret("nope", "db", []byte("x")); !errors.As(err, new(*MissingError)) {
		t.Fatalf("CreateSecret in missing namespace = %v", err)
	}
	if err := s.UpdateSecret(ns, "other", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateSecret absent = %v", err)
	}
	if err := s.UpdateSecret(ns, "db", []byte("pw2")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, SecretsDir, ns, "db")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file %v mode %v, want 0600", err, st.Mode())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Fatalf("secret dir mode %v, want 0700", dst.Mode())
	}
	if v, err := s.SecretValue(ns, "db"); err != nil || string(v) != "pw2" {
		t.Fatalf("SecretValue = %q, %v", v, err)
	}
	if err := s.CreateFunction(Function{Deployment: deployment("user", ns, "db")}); err != nil {
		t.Fatal(err)
	}
	var inUse *InUseError
	if err := s.DeleteSecret(ns, "db"); !errors.As(err, &inUse) || !reflect.DeepEqual(inUse.Functions, []string{"user"}) {
		t.Fatalf("DeleteSecret in use = %v", err)
	}
	list, err := s.Secrets(ns)
	if err != nil || len(list) != 1 || list[0].Name != "db" || list[0].Namespace != ns {
		t.Fatalf("Secrets = %+v, %v", list, err)
	}
	_ = s.DeleteFunction(ns, "user")
	if err := s.DeleteSecret(ns, "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("secret file still there: %v", err)
	}
	if err := s.DeleteSecret(ns, "db"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("DeleteSecret twice = %v", err)
	}
}

func TestNamespaces(t *testing.T) {
	s := openStore(t, t.TempDir())
	dev := api.FunctionNamespace{Name: "dev", Labels: map[string]string{"openfaas": "1"}, Annotations: map[string]string{"a": "b"}}
	if err := s.CreateNamespace(dev); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"dev", api.DefaultNamespace} {
		if err := s.CreateNamespace(api.FunctionNamespace{Name: n}); !errors.Is(err, ErrExists) {
			t.Fatalf("CreateNamespace(%s) = %v, want ErrExists", n, err)
		}
	}
	got, err := s.Namespace("dev")
	if err != nil || !reflect.DeepEqual(got, dev) {
		t.Fatalf("Namespace = %+v, %v", got, err)
	}
	list, _ := s.Namespaces()
	if len(list) != 2 || list[0].Name != api.DefaultNamespace || list[1].Name != "dev" {
		t.Fatalf("Namespaces = %+v", list)
	}
	if err := s.UpdateNamespace(api.FunctionNamespace{Name: "prod"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UpdateNamespace absent = %v", err)
	}
	_ = s.CreateSecret("dev", "k", []byte("v"))
	_ = s.CreateFunction(Function{Deployment: deployment("f", "dev")})
	var inUse *InUseError
	if err := s.DeleteNamespace("dev"); !errors.As(err, &inUse) || len(inUse.Functions) != 1 || len(inUse.Secrets) != 1 {
		t.Fatalf("DeleteNamespace non-empty = %v", err)
	}
	if err := s.DeleteNamespace(api.DefaultNamespace); !errors.Is(err, ErrInvalid) {
		t.Fatalf("DeleteNamespace default = %v", err)
	}
	_ = s.DeleteFunction("dev", "f")
	_ = s.DeleteSecret("dev", "k")
	if err := s.DeleteNamespace("dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Namespace("dev"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Namespace after delete = %v", err)
	}
}

func TestOpenLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the lock timeout")
	}
	dir := t.TempDir()
	openStore(t, dir)
	if s, err := Open(dir); err == nil {
		_ = s.Close()
		t.Fatal("second Open of a locked state succeeded")
	}
}

func FuzzDecodeFunction(f *testing.F) {
	good, _ := encodeFunction(Function{Deployment: deployment("fn", "dev"), Replicas: 3})
	f.Add([]byte("dev/fn"), good)
	f.Add([]byte("dev/fn"), []byte(`{"v":1,"deployment":{"service":"fn","namespace":"dev"}}`))
	f.Add([]byte("dev/fn"), []byte(`{"v":2}`))
	f.Add([]byte("x/y"), []byte(`{"v":1,"deployment":{"service":"../etc","namespace":"x"}} {}`))
	f.Fuzz(func(t *testing.T, k, data []byte) {
		fn, err := decodeFunction(k, data)
		if err != nil {
			return
		}
		d := fn.Deployment
		if api.ValidateName("function", d.Service) != nil || string(k) != d.Namespace+"/"+d.Service {
			t.Fatalf("accepted record under %q for %q/%q", k, d.Namespace, d.Service)
		}
		again, err := encodeFunction(fn)
		if err != nil {
			t.Fatal(err)
		}
		fn2, err := decodeFunction(k, again)
		if err != nil || !reflect.DeepEqual(fn2, fn) {
			t.Fatalf("re-decoding %s = %+v, %v", again, fn2, err)
		}
	})
}

func FuzzDecodeSecretAndNamespace(f *testing.F) {
	sec, _ := encodeSecret(Secret{Name: "s", Namespace: "dev"})
	ns, _ := encodeNamespace(api.FunctionNamespace{Name: "dev"})
	f.Add([]byte("dev/s"), sec)
	f.Add([]byte("dev"), ns)
	f.Add([]byte("dev/../s"), []byte(`{"v":1,"name":"../s","namespace":"dev"}`))
	f.Fuzz(func(t *testing.T, k, data []byte) {
		if s, err := decodeSecret(k, data); err == nil {
			if api.ValidateName("secret", s.Name) != nil || api.ValidateName("namespace", s.Namespace) != nil {
				t.Fatalf("accepted secret %+v", s)
			}
		}
		if n, err := decodeNamespace(k, data); err == nil && string(k) != n.Name {
			t.Fatalf("accepted namespace %q under %q", n.Name, k)
		}
	})
}
