package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

func collect(t *testing.T, p *Process, req api.LogRequest) []string {
	t.Helper()
	ch, err := p.Logs(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for m := range ch {
		if strings.HasPrefix(m.Text, "line-") {
			out = append(out, m.Text)
		}
	}
	return out
}

func TestLogs(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	ns := api.DefaultNamespace
	if err := e.p.Deploy(ctx, echoFn("talk")); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "talk", ns, 1)
	for i := range 5 {
		invoke(t, e.p, "talk", ns, "GET", fmt.Sprintf("/log?text=line-%d", i), "")
	}
	req := api.LogRequest{Name: "talk", Namespace: ns}
	checkFor(t, 5*time.Second, func() error {
		if got := collect(t, e.p, req); len(got) != 5 {
			return fmt.Errorf("lines %v", got)
		}
		return nil
	})
	tail := req
	tail.Tail = 2
	if got := collect(t, e.p, tail); strings.Join(got, ",") != "line-3,line-4" {
		t.Fatalf("tail 2 = %v", got)
	}
	ch, _ := e.p.Logs(ctx, req)
	var all []api.LogMessage
	for m := range ch {
		all = append(all, m)
	}
	first := all[0]
	if first.Name != "talk" || first.Namespace != ns || !strings.HasPrefix(first.Instance, "talk-") || first.Timestamp.IsZero() {
		t.Fatalf("log line %+v", first)
	}
	future := time.Now().Add(time.Hour)
	since := req
	since.Since = &future
	if got := collect(t, e.p, since); len(got) != 0 {
		t.Fatalf("since the future = %v", got)
	}
	other := req
	other.Instance = "talk-000000000000"
	if got := collect(t, e.p, other); len(got) != 0 {
		t.Fatalf("other instance = %v", got)
	}
	mine := req
	mine.Instance = first.Instance
	if got := collect(t, e.p, mine); len(got) != 5 {
		t.Fatalf("own instance = %v", got)
	}
	if _, err := e.p.Logs(ctx, api.LogRequest{Name: "nope", Namespace: ns}); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Logs of unknown = %v", err)
	}
}

func TestLogsFollowAcrossRestart(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ns := api.DefaultNamespace
	if err := e.p.Deploy(t.Context(), echoFn("tail")); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "tail", ns, 1)
	invoke(t, e.p, "tail", ns, "GET", "/log?text=line-old", "")
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := e.p.Logs(ctx, api.LogRequest{Name: "tail", Namespace: ns, Tail: 1, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	next := func(want string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case m, ok := <-ch:
				if !ok {
					t.Fatalf("stream ended waiting for %q", want)
				}
				if strings.Contains(m.Text, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no line %q", want)
			}
		}
	}
	next("line-old")
	invoke(t, e.p, "tail", ns, "GET", "/log?text=line-new", "")
	next("line-new")
	pid := replicaPIDs(t, e.p, "tail")[0]
	_ = syscall.Kill(pid, syscall.SIGKILL)
	next("process exited: signal: killed")
	next("echofn listening")
	waitAvailable(t, e.p, "tail", ns, 1)
	invoke(t, e.p, "tail", ns, "GET", "/log?text=line-after-restart", "")
	next("line-after-restart")
	cancel()
	checkFor(t, 5*time.Second, func() error {
		select {
		case _, ok := <-ch:
			if !ok {
				return nil
			}
			return errors.New("still streaming")
		default:
			return errors.New("not closed")
		}
	})
	// Remove ends followers and deletes the log.
	ch2, err := e.p.Logs(t.Context(), api.LogRequest{Name: "tail", Namespace: ns, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Remove(t.Context(), "tail", ns); err != nil {
		t.Fatal(err)
	}
	for range ch2 {
	}
	if _, err := os.Stat(filepath.Join(e.dir, "process", "logs", ns, "tail.ndjson")); !os.IsNotExist(err) {
		t.Fatalf("log file not removed: %v", err)
	}
}

func TestLogSinkRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.ndjson")
	s, err := openLogSink(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		s.write(api.LogMessage{Name: "f", Instance: "i", Timestamp: base.Add(time.Duration(i) * time.Second), Text: fmt.Sprintf("line-%03d", i)})
	}
	for _, p := range []string{path, path + ".1"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() > 1000 {
			t.Fatalf("%s: %v size %d, want <= 1000", p, err, st.Size())
		}
	}
	readers, closers, _, err := s.snapshot(false)
	if err != nil {
		t.Fatal(err)
	}
	got := history(readers, logFilter{}, 0)
	closeAll(closers)
	if len(got) < 10 || got[len(got)-1].Text != "line-099" {
		t.Fatalf("history after rotation: %d lines, last %+v", len(got), got[len(got)-1])
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Timestamp.After(got[i-1].Timestamp) {
			t.Fatalf("lines out of order at %d", i)
		}
	}
	since := base.Add(95 * time.Second)
	readers, closers, _, _ = s.snapshot(false)
	if got := history(readers, logFilter{since: &since}, 3); len(got) != 3 || got[0].Text != "line-097" {
		t.Fatalf("since+tail = %+v", got)
	}
	closeAll(closers)
	s.close(true)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("close(true) kept the log")
	}
}

func TestCopyLines(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	in := "a\r\nb\n\n" + long + "\nlast-no-newline"
	var got []string
	copyLines(strings.NewReader(in), func(s string) { got = append(got, s) })
	want := []string{"a", "b", "", long[:maxLineBytes], "xxxxxxxxxx", "last-no-newline"}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d = %.20q (len %d), want %.20q", i, got[i], len(got[i]), want[i])
		}
	}
}
