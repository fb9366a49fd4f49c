package stack

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadURL(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stack.yml", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("provider: {name: openfaas}\nfunctions:\n  a:\n    image: ${IMAGE}\n"))
	})
	mux.HandleFunc("GET /bad.yml", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("provider: {name: openfaas}\nfunctions:\n  a:\n    imgae: x\n"))
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1, port chosen by the system
	t.Cleanup(srv.Close)
	getenv := func(string) string { return "from-env" }

	t.Run("200", func(t *testing.T) {
		t.Parallel()
		f, err := Load(t.Context(), srv.URL+"/stack.yml", Options{Envsubst: true, Getenv: getenv})
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != srv.URL+"/stack.yml" || f.Functions["a"].Image != "from-env" {
			t.Errorf("got %+v", f)
		}
	})
	t.Run("404", func(t *testing.T) {
		t.Parallel()
		_, err := Load(t.Context(), srv.URL+"/missing.yml", Options{})
		want := "fetching stack file " + srv.URL + "/missing.yml: the server answered 404 Not Found"
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	})
	t.Run("problems name the URL", func(t *testing.T) {
		t.Parallel()
		_, err := Load(t.Context(), srv.URL+"/bad.yml", Options{})
		want := srv.URL + "/bad.yml:4: functions.a.imgae: unknown key"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + l.Addr().String() + "/stack.yml"
		l.Close()
		_, err = Load(t.Context(), url, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), "fetching stack file: ") {
			t.Errorf("got %v, want a fetch error", err)
		}
	})
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(t.Context(), filepath.Join(t.TempDir(), "stack.yaml"), Options{})
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "reading stack file: ") {
		t.Errorf("got %v, want a wrapped not-exist error", err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   []string
		want    string
		wantErr bool
	}{
		{name: "yaml", files: []string{"stack.yaml"}, want: "stack.yaml"},
		{name: "yml", files: []string{"stack.yml"}, want: "stack.yml"},
		{name: "both: yaml first", files: []string{"stack.yml", "stack.yaml"}, want: "stack.yaml"},
		{name: "neither", files: []string{"other.yml"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := DefaultPath(dir)
			if tt.wantErr {
				if !errors.Is(err, ErrNoStackFile) || !strings.Contains(err.Error(), "stack.yaml") ||
					!strings.Contains(err.Error(), "stack.yml") {
					t.Errorf("got %v, want ErrNoStackFile naming both files", err)
				}
				return
			}
			if err != nil || got != filepath.Join(dir, tt.want) {
				t.Errorf("got %q, %v; want %q", got, err, filepath.Join(dir, tt.want))
			}
		})
	}
}
