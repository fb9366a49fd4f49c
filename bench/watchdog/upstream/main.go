// Command upstream is the tiny HTTP server the watchdog benchmark puts
// behind fwatchdog's http mode and also measures directly: it answers every
// request with a short fixed body. It listens on -addr, by default on the
// port in $http_port (which the process back-end sets) or 8082, the port
// of the OpenFaaS http templates.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("http_port")
	if port == "" {
		port = "8082"
	}
	addr := flag.String("addr", "127.0.0.1:"+port, "listen address")
	flag.Parse()
	body := []byte("Hello from the upstream\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
