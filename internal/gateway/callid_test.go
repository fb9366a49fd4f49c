package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gofaas/gofaas/internal/metrics"
	"github.com/gofaas/gofaas/internal/provider/memory"
	"github.com/gofaas/gofaas/pkg/api"
)

func TestCallIDs(t *testing.T) {
	t.Parallel()
	a, b := newCallIDs(), newCallIDs()
	seen := map[string]bool{}
	for _, ids := range []*callIDs{a, b} {
		for range 1000 {
			id := ids.next()
			u, err := uuid.Parse(id)
			if err != nil || u.String() != id || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
				t.Fatalf("%q is not a canonical version 4 UUID: %v", id, err)
			}
			if seen[id] {
				t.Fatalf("%q made twice", id)
			}
			seen[id] = true
		}
	}
	if a.prefix == b.prefix {
		t.Error("two generators (two gateway starts) share their random prefix")
	}
}

// TestIsInvoke checks that the shortcut past the mux takes only the
// requests the mux would send to the invocation handler as they are.
func TestIsInvoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, target string
		want           bool
	}{
		{"POST", "/function/hello", true},
		{"GET", "/function/hello.dev/a/b/?x=1", true},
		{"GET", "/function/", true},
		{"GET", "/function/hello/../x", false}, // the mux redirects
		{"GET", "/function//hello", false},
		{"GET", "/function/hello/.", false},
		{"GET", "/function/a%2Fb", false}, // escaped path: left to the mux
		{"CONNECT", "/function/hello", false},
		{"GET", "/functions", false},
		{"GET", "/system/functions", false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, "http://gw"+tc.target, nil)
		if got := isInvoke(r); got != tc.want {
			t.Errorf("%s %s: isInvoke = %v, want %v", tc.method, tc.target, got, tc.want)
		}
	}
}

// TestInvokeShortcutMatchesMux checks that requests taken past the mux get
// the answer they get through it.
func TestInvokeShortcutMatchesMux(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	g := New(memory.New(u), metrics.NewGateway(), Config{})
	deploy := httptest.NewRequest("POST", "/system/functions", strings.NewReader(`{"service":"echo","image":"x"}`))
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, deploy)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", rec.Code, rec.Body)
	}
	for _, target := range []string{"/function/echo/a?q=1", "/function/echo.openfaas-fn/", "/function/missing"} {
		r := httptest.NewRequest("GET", target, nil)
		direct, viaMux := httptest.NewRecorder(), httptest.NewRecorder()
		g.ServeHTTP(direct, r.Clone(r.Context()))
		g.mux.ServeHTTP(viaMux, r.Clone(r.Context()))
		if direct.Code != viaMux.Code || direct.Body.String() != viaMux.Body.String() || direct.Header().Get(api.HeaderCallID) == "" {
			t.Errorf("%s: %d %q past the mux, %d %q through it", target, direct.Code, direct.Body, viaMux.Code, viaMux.Body)
		}
	}
}
