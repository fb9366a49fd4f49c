// Command flaky is a test function for the watchdog's http mode: it answers
// 503 to the first ?fail=N deliveries of each X-Call-Id, then 200 with the
// times it saw that call, so a test can check retries and their delays.
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	f := &flaky{seen: map[string][]time.Time{}}
	port := cmp.Or(os.Getenv("http_port"), "8082")
	if err := http.ListenAndServe("127.0.0.1:"+port, f); err != nil {
		fmt.Fprintln(os.Stderr, "flaky:", err)
		os.Exit(1)
	}
}

type flaky struct {
	mu   sync.Mutex
	seen map[string][]time.Time
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Call-Id")
	f.mu.Lock()
	f.seen[id] = append(f.seen[id], time.Now())
	times := append([]time.Time(nil), f.seen[id]...)
	f.mu.Unlock()
	fail, _ := strconv.Atoi(r.URL.Query().Get("fail"))
	if len(times) <= fail {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"callId": id, "attempts": times})
}
