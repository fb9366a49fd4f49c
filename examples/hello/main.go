// Command hello is the example function of the README tour and of the
// end-to-end tests: an HTTP server
// for the watchdog's http mode that echoes what it received and can read its
// secrets, log a line, or fail on request.
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	port := cmp.Or(os.Getenv("http_port"), "8082")
	http.HandleFunc("/", handle)
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

type echo struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Body    string            `json:"body"`
	CallID  string            `json:"callId"`
	Env     map[string]string `json:"env"`
	Secrets map[string]string `json:"secrets"`
	Pid     int               `json:"pid"`
}

func handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Query().Get("log") != "" {
		fmt.Println("log:", r.URL.Query().Get("log"))
	}
	e := echo{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
		CallID: r.Header.Get("X-Call-Id"), Pid: os.Getpid(),
		Env:     map[string]string{"greeting": os.Getenv("greeting"), "fprocess": os.Getenv("fprocess")},
		Secrets: readSecrets(),
	}
	w.Header().Set("Content-Type", "application/json")
	if code := r.URL.Query().Get("status"); code != "" {
		var c int
		fmt.Sscan(code, &c)
		w.WriteHeader(c)
	}
	json.NewEncoder(w).Encode(e)
}

// readSecrets reads every secret file from the folder the platform names,
// falling back to the OpenFaaS path.
func readSecrets() map[string]string {
	dir := cmp.Or(os.Getenv("OPENFAAS_SECRETS_DIR"), "/var/openfaas/secrets")
	out := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			out[e.Name()] = string(b)
		}
	}
	return out
}
