// Command echofn is the test function of the process back-end: it serves
// /_/health and echoes each request with its environment, like a watchdog
// would run a function. It honours port and unix_socket.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

type echo struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Body    string            `json:"body"`
	Env     map[string]string `json:"env"`
	Cwd     string            `json:"cwd"`
	PID     int               `json:"pid"`
	Secrets map[string]string `json:"secrets"`
	Mounted map[string]string `json:"mounted"`
	TCP8080 string            `json:"tcp8080"`
	TmpFile string            `json:"tmpFile"`
}

func main() {
	if code := os.Getenv("ECHOFN_EXIT"); code != "" {
		fmt.Println("echofn exiting at once")
		n, _ := strconv.Atoi(code)
		os.Exit(n)
	}
	ln, tcp8080, err := listen()
	if err != nil {
		fmt.Fprintln(os.Stderr, "echofn:", err)
		os.Exit(1)
	}
	fmt.Println("echofn listening on", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("/_/health", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "OK") })
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.URL.Query().Get("text"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if os.Getenv("ECHOFN_MODE") == "conformance" {
			conformance(w, r, body)
			return
		}
		cwd, _ := os.Getwd()
		e := echo{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
			Env: env(), Cwd: cwd, PID: os.Getpid(), TCP8080: tcp8080,
			Secrets: readDir(os.Getenv("OPENFAAS_SECRETS_DIR")), Mounted: readDir("/var/openfaas/secrets")}
		tmp := filepath.Join(os.TempDir(), "echofn-probe")
		if err := os.WriteFile(tmp, []byte("x"), 0o600); err == nil {
			e.TmpFile = tmp
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e)
	})
	fmt.Fprintln(os.Stderr, "echofn:", http.Serve(ln, mux))
}

// listen serves on unix_socket when set (and then also tries to bind
// 127.0.0.1:8080, to show the network namespace), else on 127.0.0.1:$port.
func listen() (net.Listener, string, error) {
	if sock := os.Getenv("unix_socket"); sock != "" {
		tcp := "ok"
		if l, err := net.Listen("tcp", "127.0.0.1:8080"); err != nil {
			tcp = err.Error()
		} else {
			go func() { _ = http.Serve(l, http.NotFoundHandler()) }()
		}
		ln, err := net.Listen("unix", sock)
		return ln, tcp, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("port"))
	return ln, "", err
}

func env() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func readDir(dir string) map[string]string {
	out := map[string]string{}
	if dir == "" {
		return out
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err == nil {
			st, _ := os.Stat(filepath.Join(dir, e.Name()))
			out[e.Name()] = fmt.Sprintf("%s|%o", b, st.Mode().Perm())
		}
	}
	return out
}

// conformance answers like providertest.Echo: the body back, and what was
// seen in X-Echo-* headers.
func conformance(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("X-Echo-Method", r.Method)
	w.Header().Set("X-Echo-Path", r.URL.Path)
	w.Header().Set("X-Echo-Query", r.URL.RawQuery)
	if ct := r.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	_, _ = w.Write(body)
}
