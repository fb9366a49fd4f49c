package rest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// fuzzBody sends body to method path on a handler over memory and checks
// the answer is one of codes (never a 500 or a panic).
func fuzzBody(f *testing.F, method, path string, seeds []string, codes ...int) {
	for _, s := range seeds {
		f.Add(s)
	}
	h := NewHandler(newMemory(f), HandlerConfig{MaxBodyBytes: 4096})
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		if !slices.Contains(codes, rec.Code) {
			t.Fatalf("%s %s %q: status %d %q", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && rec.Body.Len() == 0 {
			t.Fatalf("%s %s %q: status %d without a message", method, path, body, rec.Code)
		}
	})
}

func FuzzDeploymentJSON(f *testing.F) {
	fuzzBody(f, "POST", "/system/functions", []string{
		`{"service":"fn","image":"img"}`,
		`{"service":"fn","image":"img","namespace":"dev","envVars":{"a":"b"},"limits":{"memory":"1Mi"}}`,
		`{"service":"fn","image":"img","secrets":["x"],"labels":null}`,
		`{"service":"kube-system","image":"i","namespace":"kube-system"}`,
		`{"service":`, `[]`, `null`, `{}`, ``,
	}, 202, 400, 409, 413)
}

func FuzzScaleJSON(f *testing.F) {
	fuzzBody(f, "POST", "/system/scale-function/fn?namespace=openfaas-fn", []string{
		`{"serviceName":"fn","replicas":3}`, `{"replicas":-1}`, `{"serviceName":"x","replicas":1,"namespace":"dev"}`,
		`{"replicas":1e30}`, `{"replicas":"1"}`, `{`,
	}, 202, 400, 404, 413)
}

func FuzzDeleteJSON(f *testing.F) {
	fuzzBody(f, "DELETE", "/system/functions?namespace=dev", []string{
		`{"functionName":"fn"}`, `{"functionName":"fn","namespace":"openfaas-fn"}`, `{"functionName":""}`, `{"functionName":"A.B"}`, `"x"`,
	}, 202, 400, 404, 413)
}

func FuzzInvokePath(f *testing.F) {
	for _, s := range []string{"fn", "fn.openfaas-fn/a/b", "fn./x", ".ns", "a%2Fb", "fn?x=1", "..", "fn.kube-system"} {
		f.Add(s)
	}
	h := NewHandler(newMemory(f), HandlerConfig{})
	f.Fuzz(func(t *testing.T, rest string) {
		u, err := url.Parse("/function/" + rest)
		if err != nil {
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, &http.Request{Method: "GET", URL: u, Header: http.Header{}, Host: "x", RemoteAddr: "127.0.0.1:1"})
		switch rec.Code {
		case 400, 404, 301, 307, 308: // bad name, no such function, ServeMux path cleaning
		default:
			t.Fatalf("/function/%s: status %d %q from an empty back-end", rest, rec.Code, rec.Body)
		}
	})
}
