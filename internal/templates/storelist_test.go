package templates

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const storeJSON = `[
 {"template":"golang-middleware","platform":"x86_64","language":"Go","source":"openfaas",
  "description":"HTTP middleware interface in Go","repo":"https://github.com/openfaas/golang-http-template",
  "official":"true","recommended":true},
 {"template":"rust","platform":"x86_64","language":"Rust","source":"someone","description":"Rust",
  "repo":"https://github.com/x/rust-template","official":"false","extra":1}
]`

var storeWant = []StoreTemplate{
	{Template: "golang-middleware", Platform: "x86_64", Language: "Go", Source: "openfaas",
		Description: "HTTP middleware interface in Go", Repo: "https://github.com/openfaas/golang-http-template",
		Official: "true", Recommended: true},
	{Template: "rust", Platform: "x86_64", Language: "Rust", Source: "someone", Description: "Rust",
		Repo: "https://github.com/x/rust-template", Official: "false"},
}

func TestLoadStore(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /templates.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(storeJSON))
	})
	mux.HandleFunc("GET /bad.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"not":"a list"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"templates.json": storeJSON, "broken.json": "[{"})

	tests := []struct {
		name, src string
		wantErr   string
	}{
		{name: "http", src: srv.URL + "/templates.json"},
		{name: "file", src: filepath.Join(dir, "templates.json")},
		{name: "http status", src: srv.URL + "/missing.json", wantErr: "404 Not Found"},
		{name: "not a list", src: srv.URL + "/bad.json", wantErr: "decoding template store"},
		{name: "broken file", src: filepath.Join(dir, "broken.json"), wantErr: "decoding template store"},
		{name: "missing file", src: filepath.Join(dir, "none.json"), wantErr: "reading template store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := LoadStore(t.Context(), tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, storeWant) {
				t.Errorf("got %+v\nwant %+v", got, storeWant)
			}
		})
	}
}
