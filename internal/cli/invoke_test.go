package cli

import (
	"strings"
	"testing"
	"time"
)

func TestInvoke(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{
		"POST /function/echo":       {200, "echoed", nil},
		"GET /function/echo.dev":    {200, "got", nil},
		"POST /async-function/echo": {202, "", map[string]string{"X-Call-Id": "call-123"}},
		"POST /function/broken":     {500, "handler crashed", nil},
	})
	tests := []struct {
		name, stdin     string
		args            []string
		out, errOut     string
		fail            bool
		path, query, ct string
		headers         map[string]string
	}{
		{"stdin body", "hello", []string{"invoke", "echo"}, "echoed", "", false, "/function/echo", "", "text/plain", nil},
		{"method, namespace, query, headers", "", []string{"invoke", "echo", "-n", "dev", "-m", "get", "--query", "a=1", "--query", "b=2", "-H", "X-Trace=7", "--content-type", "application/json"},
			"got", "", false, "/function/echo.dev", "a=1&b=2", "application/json", map[string]string{"X-Trace": "7"}},
		{"header wins over content-type flag", "", []string{"invoke", "echo", "-H", "Content-Type=text/csv"}, "echoed", "", false, "/function/echo", "", "text/csv", nil},
		{"async", "x", []string{"invoke", "echo", "--async"}, "Function submitted asynchronously.\nCall ID: call-123\n", "", false, "/async-function/echo", "", "text/plain", nil},
		{"error answer", "x", []string{"invoke", "broken"}, "", "handler crashed", true, "/function/broken", "", "text/plain", nil},
		{"missing function", "x", []string{"invoke", "gone"}, "", "not found", true, "/function/gone", "", "text/plain", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, gw.URL(), tt.stdin)
			n := len(gw.requests())
			err := e.run(t, tt.args...)
			if (err != nil) != tt.fail {
				t.Fatalf("error = %v, want failure %v", err, tt.fail)
			}
			if e.out.String() != tt.out || !strings.Contains(e.errOut.String(), tt.errOut) {
				t.Errorf("stdout %q stderr %q; want %q and %q", e.out, e.errOut, tt.out, tt.errOut)
			}
			r := gw.requests()[n]
			if r.Path != tt.path || r.Query != tt.query || r.Header.Get("Content-Type") != tt.ct || r.Body != tt.stdin {
				t.Errorf("request %s?%s type %q body %q", r.Path, r.Query, r.Header.Get("Content-Type"), r.Body)
			}
			for k, v := range tt.headers {
				if r.Header.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, r.Header.Get(k), v)
				}
			}
		})
	}
}

func TestInvokeErrorNamesStatus(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, nil)
	e := newEnv(t, gw.URL(), "")
	err := e.run(t, "invoke", "gone")
	if err == nil || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("error = %v", err)
	}
	if err := e.run(t, "invoke", "x", "-H", "novalue"); err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
		t.Errorf("bad header: %v", err)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	lines := `{"name":"fn","namespace":"openfaas-fn","instance":"fn-1","timestamp":"2024-05-01T10:00:00Z","text":"first\n"}
{"name":"fn","namespace":"openfaas-fn","instance":"fn-2","timestamp":"2024-05-01T10:00:01Z","text":"second"}
`
	tests := []struct {
		name  string
		args  []string
		query string
		out   string
	}{
		{"defaults follow", []string{"logs", "fn"}, "follow=true&name=fn&tail=-1",
			"2024-05-01T10:00:00Z first\n2024-05-01T10:00:01Z second\n"},
		{"filters", []string{"logs", "fn", "--follow=false", "--tail", "5", "-n", "dev", "--instance-id", "fn-1", "--since-time", "2024-05-01T09:00:00Z"},
			"follow=false&instance=fn-1&name=fn&namespace=dev&since=2024-05-01T09%3A00%3A00Z&tail=5",
			"2024-05-01T10:00:00Z first\n2024-05-01T10:00:01Z second\n"},
		{"name and instance, no time", []string{"logs", "fn", "--name", "--instance", "--time-format", ""}, "follow=true&name=fn&tail=-1",
			"fn (fn-1) first\nfn (fn-2) second\n"},
		{"keyvalue", []string{"logs", "fn", "--format", "keyvalue", "--instance"}, "follow=true&name=fn&tail=-1",
			"timestamp=\"2024-05-01T10:00:00Z\" instance=\"fn-1\" text=\"first\"\ntimestamp=\"2024-05-01T10:00:01Z\" instance=\"fn-2\" text=\"second\"\n"},
		{"json", []string{"logs", "fn", "-o", "json"}, "follow=true&name=fn&tail=-1",
			`{"name":"fn","namespace":"openfaas-fn","instance":"fn-1","timestamp":"2024-05-01T10:00:00Z","text":"first\n"}` + "\n" +
				`{"name":"fn","namespace":"openfaas-fn","instance":"fn-2","timestamp":"2024-05-01T10:00:01Z","text":"second"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newFakeGateway(t, map[string]route{"GET /system/logs": {200, lines, nil}})
			e := newEnv(t, gw.URL(), "")
			if got := e.mustRun(t, tt.args...); got != tt.out {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.out)
			}
			if q := gw.requests()[0].Query; q != tt.query {
				t.Errorf("query = %q\n want %q", q, tt.query)
			}
		})
	}
}

func TestLogsSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	req := logRequest(&LogsOptions{Name: "fn", Since: 10 * time.Minute, now: func() time.Time { return now }})
	if req.Since == nil || !req.Since.Equal(now.Add(-10*time.Minute)) {
		t.Errorf("since = %v", req.Since)
	}
	e := newEnv(t, "", "")
	for _, args := range [][]string{{"logs", "fn", "--format", "yaml"}, {"logs", "fn", "--since-time", "yesterday"}, {"logs"}} {
		if err := e.run(t, args...); !isUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestLogsUnsupported(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"GET /system/logs": {501, "logs are not supported by this provider", nil}})
	e := newEnv(t, gw.URL(), "")
	if err := e.run(t, "logs", "fn"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("error = %v", err)
	}
}

func TestLogsOptionsDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	var got *LogsOptions
	cmd := NewCmdLogs(e.f, func(o *LogsOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"fn"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := LogsOptions{Name: "fn", Follow: true, Tail: -1, Format: "plain", TimeFormat: time.RFC3339}
	if got.Name != want.Name || got.Follow != want.Follow || got.Tail != want.Tail || got.Format != want.Format || got.TimeFormat != want.TimeFormat {
		t.Errorf("defaults = %+v", got)
	}
}
