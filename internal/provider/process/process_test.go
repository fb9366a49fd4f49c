package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

func TestDeployInvokeRemove(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	if err := e.p.CreateSecret(ctx, api.Secret{Name: "db-pass", Value: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	d := echoFn("hello")
	d.EnvProcess = "python3 index.py"
	d.EnvVars = map[string]string{"MY_VAR": "mine", "IMAGE_VAR": "overridden"}
	d.Labels = map[string]string{LabelScaleMin: "2", "team": "a"}
	d.Annotations = map[string]string{"topic": "t1"}
	d.Secrets = []string{"db-pass"}
	d.Constraints = []string{"node.platform.os == linux"}
	d.Limits = &api.FunctionResources{Memory: "128Mi", CPU: "100m"}
	d.Requests = &api.FunctionResources{Memory: "64Mi"}
	d.ReadOnlyRootFilesystem = true
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	st := waitAvailable(t, e.p, "hello", api.DefaultNamespace, 2)
	want := api.FunctionStatus{
		Name: "hello", Image: d.Image, Namespace: d.Namespace, EnvProcess: d.EnvProcess, EnvVars: d.EnvVars,
		Constraints: d.Constraints, Secrets: d.Secrets, Labels: d.Labels, Annotations: d.Annotations,
		Limits: d.Limits, Requests: d.Requests, ReadOnlyRootFilesystem: true,
		Replicas: 2, AvailableReplicas: 2, CreatedAt: st.CreatedAt,
	}
	if !reflect.DeepEqual(st, want) || st.CreatedAt.IsZero() {
		t.Fatalf("Function =\n%+v\nwant\n%+v", st, want)
	}

	got := invoke(t, e.p, "hello", api.DefaultNamespace, "POST", "/a/b?x=1", "payload")
	if got.Method != "POST" || got.Path != "/a/b" || got.Query != "x=1" || got.Body != "payload" {
		t.Fatalf("echo = %+v", got)
	}
	checks := map[string]string{
		"fprocess": "python3 index.py", "MY_VAR": "mine", "IMAGE_VAR": "overridden", "prefix_logs": "false",
		"metrics_port": "0",
	}
	for k, v := range checks {
		if got.Env[k] != v {
			t.Errorf("env %s = %q, want %q", k, got.Env[k], v)
		}
	}
	if !strings.HasPrefix(got.Env[EnvReplica], "hello-") {
		t.Errorf("GOFAAS_REPLICA = %q", got.Env[EnvReplica])
	}
	if p := got.Env["PATH"]; !strings.HasPrefix(p, filepath.Join(imageRoot, "usr/local/bin")+":"+filepath.Join(imageRoot, "bin")+":") {
		t.Errorf("PATH = %q, want image entries first", p)
	}
	if got.Cwd != filepath.Join(imageRoot, "home/app") {
		t.Errorf("cwd = %q", got.Cwd)
	}
	if tmp := got.Env["TMPDIR"]; !strings.HasPrefix(tmp, e.dir) || got.TmpFile == "" {
		t.Errorf("TMPDIR = %q (tmp file %q), want a private dir under the data dir", tmp, got.TmpFile)
	}
	if got.Secrets["db-pass"] != "s3cret|600" {
		t.Errorf("secrets dir holds %v, want db-pass with mode 0600", got.Secrets)
	}

	pids := replicaPIDs(t, e.p, "hello")
	if err := e.p.Remove(ctx, "hello", api.DefaultNamespace); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	checkFor(t, 10*time.Second, func() error {
		for _, pid := range pids {
			if alive(pid) {
				return fmt.Errorf("replica pid %d still running", pid)
			}
		}
		return nil
	})
	if _, err := e.p.Function(ctx, "hello", api.DefaultNamespace, false); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Function after Remove = %v", err)
	}
	if err := e.p.Remove(ctx, "hello", api.DefaultNamespace); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("second Remove = %v", err)
	}
	if _, err := e.p.Resolve(ctx, "hello", api.DefaultNamespace); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Resolve after Remove = %v", err)
	}
}

func replicaPIDs(t *testing.T, p *Process, name string) []int {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, r := range p.fns[fnKey{namespace: api.DefaultNamespace, name: name}].all() {
		pids = append(pids, r.pid())
	}
	return pids
}

func TestScale(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	if err := e.p.Deploy(ctx, echoFn("sc")); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "sc", api.DefaultNamespace, 1)
	for _, n := range []uint64{3, 1, 0, 2} {
		if err := e.p.Scale(ctx, "sc", api.DefaultNamespace, n); err != nil {
			t.Fatalf("Scale(%d): %v", n, err)
		}
		st := waitAvailable(t, e.p, "sc", api.DefaultNamespace, n)
		if st.Replicas != n {
			t.Fatalf("Replicas = %d, want %d", st.Replicas, n)
		}
		if n == 0 {
			_, err := e.p.Resolve(ctx, "sc", api.DefaultNamespace)
			if !errors.Is(err, provider.ErrNoReplicas) || !strings.Contains(err.Error(), "0 desired") {
				t.Fatalf("Resolve at 0 = %v", err)
			}
		}
		checkFor(t, 10*time.Second, func() error {
			if pids := replicaPIDs(t, e.p, "sc"); len(pids) != int(n) {
				return fmt.Errorf("%d replicas running, want %d", len(pids), n)
			}
			return nil
		})
	}
	if f, _ := e.st.Function(api.DefaultNamespace, "sc"); f.Replicas != 2 {
		t.Fatalf("stored replicas = %d, want 2", f.Replicas)
	}
	if err := e.p.Scale(ctx, "sc", api.DefaultNamespace, 1000); !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Scale(1000) = %v, want ErrInvalid", err)
	}
	if err := e.p.Scale(ctx, "nope", api.DefaultNamespace, 1); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Scale unknown = %v", err)
	}
}

func TestLeastInFlight(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	d := echoFn("lb")
	d.Labels = map[string]string{LabelScaleMin: "3"}
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "lb", api.DefaultNamespace, 3)
	var held []provider.Target
	hosts := map[string]bool{}
	for range 3 {
		tgt, err := e.p.Resolve(ctx, "lb", api.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tgt)
		hosts[tgt.URL.Host] = true
	}
	if len(hosts) != 3 {
		t.Fatalf("3 concurrent invocations went to %d replicas: %v", len(hosts), hosts)
	}
	// Free the second replica: the next two invocations must go there
	// first, then spread again.
	held[1].Done()
	held[1].Done() // Done is idempotent
	next, err := e.p.Resolve(ctx, "lb", api.DefaultNamespace)
	if err != nil || next.URL.Host != held[1].URL.Host {
		t.Fatalf("Resolve went to %v (%v), want the idle replica %s", next.URL, err, held[1].URL.Host)
	}
	for _, tgt := range append(held, next) {
		tgt.Done()
	}
	counts := map[string]int{}
	for range 30 {
		tgt, err := e.p.Resolve(ctx, "lb", api.DefaultNamespace)
		if err != nil {
			t.Fatal(err)
		}
		counts[tgt.URL.Host]++
		tgt.Done()
	}
	for h, n := range counts {
		if n != 10 {
			t.Fatalf("sequential invocations spread %v, want 10 each (host %s)", counts, h)
		}
	}
}

func TestRestartAfterKill(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	if err := e.p.Deploy(t.Context(), echoFn("phoenix")); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "phoenix", api.DefaultNamespace, 1)
	before := invoke(t, e.p, "phoenix", api.DefaultNamespace, "GET", "/", "")
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 15*time.Second, func() error {
		tgt, err := e.p.Resolve(t.Context(), "phoenix", api.DefaultNamespace)
		if err != nil {
			return err
		}
		tgt.Done()
		if pids := replicaPIDs(t, e.p, "phoenix"); len(pids) != 1 || pids[0] == before.PID || pids[0] == 0 {
			return fmt.Errorf("replica pids %v, want one new process", pids)
		}
		return nil
	})
	after := invoke(t, e.p, "phoenix", api.DefaultNamespace, "GET", "/", "")
	if after.PID == before.PID || after.Env[EnvReplica] != before.Env[EnvReplica] {
		t.Fatalf("after restart pid %d instance %s; before pid %d instance %s",
			after.PID, after.Env[EnvReplica], before.PID, before.Env[EnvReplica])
	}
}

func TestCrashingFunctionBacksOff(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	bad := echoFn("crash")
	bad.EnvVars = map[string]string{"ECHOFN_EXIT": "3"}
	for _, d := range []api.FunctionDeployment{bad, echoFn("fine")} {
		if err := e.p.Deploy(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	waitAvailable(t, e.p, "fine", api.DefaultNamespace, 1)
	checkFor(t, 15*time.Second, func() error {
		n := countLines(t, e.p, "crash", "gofaas: process exited: exit status 3")
		if n < 4 {
			return fmt.Errorf("%d exits logged, want at least 4", n)
		}
		return nil
	})
	st, err := e.p.Function(ctx, "crash", api.DefaultNamespace, false)
	if err != nil || st.AvailableReplicas != 0 || st.Replicas != 1 {
		t.Fatalf("crashing function status %+v, %v", st, err)
	}
	if _, err := e.p.Resolve(ctx, "crash", api.DefaultNamespace); !errors.Is(err, provider.ErrNoReplicas) {
		t.Fatalf("Resolve crashing = %v", err)
	}
	invoke(t, e.p, "fine", api.DefaultNamespace, "GET", "/", "")
	// Backoff: the gaps between exits grow (50ms doubling to 400ms).
	times := exitTimes(t, e.p, "crash")
	last := len(times) - 1
	if gap := times[last].Sub(times[last-1]); gap < 100*time.Millisecond {
		t.Fatalf("restarts are not backing off: last gap %s", gap)
	}
}

func countLines(t *testing.T, p *Process, name, text string) int {
	return len(linesWith(t, p, name, text))
}

func exitTimes(t *testing.T, p *Process, name string) []time.Time {
	var out []time.Time
	for _, m := range linesWith(t, p, name, "gofaas: process exited") {
		out = append(out, m.Timestamp)
	}
	return out
}

func linesWith(t *testing.T, p *Process, name, text string) []api.LogMessage {
	t.Helper()
	ch, err := p.Logs(t.Context(), api.LogRequest{Name: name, Namespace: api.DefaultNamespace})
	if err != nil {
		t.Fatal(err)
	}
	var out []api.LogMessage
	for m := range ch {
		if strings.Contains(m.Text, text) {
			out = append(out, m)
		}
	}
	return out
}

func TestUpdateRollsReplicas(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	d := echoFn("up")
	d.EnvVars = map[string]string{"VERSION": "1"}
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "up", api.DefaultNamespace, 1)
	if err := e.p.Scale(ctx, "up", api.DefaultNamespace, 2); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "up", api.DefaultNamespace, 2)
	oldPIDs := replicaPIDs(t, e.p, "up")
	d.Image = "test/echofn:2"
	d.EnvVars = map[string]string{"VERSION": "2"}
	d.Labels = map[string]string{"new": "label"}
	if err := e.p.Update(ctx, d); err != nil {
		t.Fatalf("Update: %v", err)
	}
	st := waitAvailable(t, e.p, "up", api.DefaultNamespace, 2)
	if st.Replicas != 2 || st.Image != "test/echofn:2" || !reflect.DeepEqual(st.Labels, d.Labels) {
		t.Fatalf("after Update %+v", st)
	}
	checkFor(t, 15*time.Second, func() error {
		for _, pid := range oldPIDs {
			if alive(pid) {
				return fmt.Errorf("old replica %d still running", pid)
			}
		}
		return nil
	})
	for range 4 {
		if v := invoke(t, e.p, "up", api.DefaultNamespace, "GET", "/", "").Env["VERSION"]; v != "2" {
			t.Fatalf("after rollout VERSION = %q", v)
		}
	}
	absent := echoFn("absent")
	if err := e.p.Update(ctx, absent); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Update absent = %v", err)
	}
	bad := d
	bad.Image = "test/nope:1"
	if err := e.p.Update(ctx, bad); !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Update to a missing image = %v", err)
	}
	if f, _ := e.st.Function(api.DefaultNamespace, "up"); f.Deployment.Image != "test/echofn:2" || f.Replicas != 2 {
		t.Fatalf("stored after bad update: %+v", f)
	}
}

func TestDeployValidation(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	if err := e.p.Deploy(ctx, echoFn("taken")); err != nil {
		t.Fatal(err)
	}
	with := func(mod func(*api.FunctionDeployment)) api.FunctionDeployment {
		d := echoFn("fn-ok")
		mod(&d)
		return d
	}
	tests := []struct {
		name string
		d    api.FunctionDeployment
		is   error
		msg  string
	}{
		{"empty name", with(func(d *api.FunctionDeployment) { d.Service = "" }), provider.ErrInvalid, "empty"},
		{"bad name", with(func(d *api.FunctionDeployment) { d.Service = "Bad_Name" }), provider.ErrInvalid, "not valid"},
		{"long name", with(func(d *api.FunctionDeployment) { d.Service = strings.Repeat("a", 64) }), provider.ErrInvalid, "63"},
		{"no image", with(func(d *api.FunctionDeployment) { d.Image = "" }), provider.ErrInvalid, "image is required"},
		{"kube-system", with(func(d *api.FunctionDeployment) { d.Namespace = "kube-system" }), provider.ErrInvalid, "kube-system"},
		{"missing namespace", with(func(d *api.FunctionDeployment) { d.Namespace = "nope" }), provider.ErrInvalid, "namespace nope does not exist"},
		{"missing secret", with(func(d *api.FunctionDeployment) { d.Secrets = []string{"gone"} }), provider.ErrInvalid, `secret "gone"`},
		{"missing image", with(func(d *api.FunctionDeployment) { d.Image = "test/nope:1" }), provider.ErrInvalid, "was not found"},
		{"no entrypoint", with(func(d *api.FunctionDeployment) { d.Image = "test/noentry:1" }), provider.ErrInvalid, "no entrypoint"},
		{"missing program", with(func(d *api.FunctionDeployment) { d.Image = "test/missing:1" }), provider.ErrInvalid, "/bin/not-there"},
		{"bad memory", with(func(d *api.FunctionDeployment) { d.Limits = &api.FunctionResources{Memory: "lots"} }), provider.ErrInvalid, "limits.memory"},
		{"bad cpu", with(func(d *api.FunctionDeployment) { d.Requests = &api.FunctionResources{CPU: "-1"} }), provider.ErrInvalid, "requests.cpu"},
		{"too many replicas", with(func(d *api.FunctionDeployment) { d.Labels = map[string]string{LabelScaleMin: "5000"} }), provider.ErrInvalid, "limit"},
		{"exists", echoFn("taken"), provider.ErrExists, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.p.Deploy(ctx, tt.d)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Deploy = %v, want %v mentioning %q", err, tt.is, tt.msg)
			}
		})
	}
	list, _ := e.st.Functions("")
	if len(list) != 1 {
		t.Fatalf("failed deploys stored functions: %+v", list)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := e.p.Deploy(cancelled, echoFn("late")); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Deploy with cancelled ctx = %v", err)
	}
}

func TestSecretsAPI(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	ns := api.DefaultNamespace
	if err := e.p.CreateSecret(ctx, api.Secret{Name: "key", Namespace: ns, RawValue: []byte("v1")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		is   error
	}{
		{"create exists", e.p.CreateSecret(ctx, api.Secret{Name: "key", Value: "x"}), provider.ErrExists},
		{"create bad name", e.p.CreateSecret(ctx, api.Secret{Name: "../x", Value: "x"}), provider.ErrInvalid},
		{"create kube-system", e.p.CreateSecret(ctx, api.Secret{Name: "a", Namespace: "kube-system", Value: "x"}), provider.ErrInvalid},
		{"create missing ns", e.p.CreateSecret(ctx, api.Secret{Name: "a", Namespace: "nope", Value: "x"}), provider.ErrInvalid},
		{"update absent", e.p.UpdateSecret(ctx, api.Secret{Name: "other", Value: "x"}), provider.ErrNotFound},
		{"delete absent", e.p.DeleteSecret(ctx, "other", ns), provider.ErrNotFound},
	}
	for _, tt := range tests {
		if err := isErr(tt.err, tt.is); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	d := echoFn("sec")
	d.Secrets = []string{"key"}
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "sec", ns, 1)
	if got := invoke(t, e.p, "sec", ns, "GET", "/", "").Secrets["key"]; got != "v1|600" {
		t.Fatalf("secret copy = %q", got)
	}
	if err := e.p.UpdateSecret(ctx, api.Secret{Name: "key", Value: "v2"}); err != nil {
		t.Fatal(err)
	}
	if got := invoke(t, e.p, "sec", ns, "GET", "/", "").Secrets["key"]; got != "v2|600" {
		t.Fatalf("secret copy after update = %q", got)
	}
	err := e.p.DeleteSecret(ctx, "key", ns)
	if !errors.Is(err, provider.ErrInvalid) || !strings.Contains(err.Error(), "sec") {
		t.Fatalf("DeleteSecret in use = %v", err)
	}
	list, err := e.p.SecretList(ctx, ns)
	if err != nil || !reflect.DeepEqual(list, []api.Secret{{Name: "key", Namespace: ns}}) {
		t.Fatalf("SecretList = %+v, %v", list, err)
	}
	if err := e.p.Remove(ctx, "sec", ns); err != nil {
		t.Fatal(err)
	}
	if err := e.p.DeleteSecret(ctx, "key", ns); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if list, _ := e.p.SecretList(ctx, ns); len(list) != 0 {
		t.Fatalf("SecretList after delete = %+v", list)
	}
}

func TestNamespacesAPI(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	ctx := t.Context()
	marked := map[string]string{"openfaas": "1"}
	tests := []struct {
		name string
		err  func() error
		is   error
	}{
		{"no label", func() error { return e.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev"}) }, provider.ErrInvalid},
		{"kube-system", func() error {
			return e.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "kube-system", Labels: marked})
		}, provider.ErrInvalid},
		{"create", func() error { return e.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev", Labels: marked}) }, nil},
		{"exists", func() error { return e.p.CreateNamespace(ctx, api.FunctionNamespace{Name: "dev", Labels: marked}) }, provider.ErrExists},
		{"default exists", func() error {
			return e.p.CreateNamespace(ctx, api.FunctionNamespace{Name: api.DefaultNamespace, Labels: marked})
		}, provider.ErrExists},
		{"update absent", func() error { return e.p.UpdateNamespace(ctx, api.FunctionNamespace{Name: "prod", Labels: marked}) }, provider.ErrNotFound},
		{"deploy into it", func() error { d := echoFn("nsfn"); d.Namespace = "dev"; return e.p.Deploy(ctx, d) }, nil},
		{"delete non-empty", func() error { return e.p.DeleteNamespace(ctx, "dev") }, provider.ErrInvalid},
		{"delete default", func() error { return e.p.DeleteNamespace(ctx, api.DefaultNamespace) }, provider.ErrInvalid},
		{"get absent", func() error { _, err := e.p.Namespace(ctx, "prod"); return err }, provider.ErrNotFound},
		{"remove fn", func() error { return e.p.Remove(ctx, "nsfn", "dev") }, nil},
		{"delete", func() error { return e.p.DeleteNamespace(ctx, "dev") }, nil},
		{"delete again", func() error { return e.p.DeleteNamespace(ctx, "dev") }, provider.ErrNotFound},
	}
	for _, tt := range tests {
		err := tt.err()
		if (tt.is == nil && err != nil) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Fatalf("%s: err = %v, want %v", tt.name, err, tt.is)
		}
	}
	names, err := e.p.NamespaceList(ctx)
	if err != nil || !reflect.DeepEqual(names, []string{api.DefaultNamespace}) {
		t.Fatalf("NamespaceList = %v, %v", names, err)
	}
	if _, err := e.p.Functions(ctx, "kube-system"); !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("Functions(kube-system) = %v", err)
	}
}

func TestRestoreAfterRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, IsolationPorts, dir)
	ctx := t.Context()
	d := echoFn("durable")
	d.Labels = map[string]string{"keep": "me"}
	if err := e.p.Deploy(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Scale(ctx, "durable", api.DefaultNamespace, 2); err != nil {
		t.Fatal(err)
	}
	before := waitAvailable(t, e.p, "durable", api.DefaultNamespace, 2)
	pids := replicaPIDs(t, e.p, "durable")
	e.close()
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("replica %d survived Close", pid)
		}
	}
	e2 := newEnv(t, IsolationPorts, dir)
	after := waitAvailable(t, e2.p, "durable", api.DefaultNamespace, 2)
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("restored %+v, want %+v", after, before)
	}
	invoke(t, e2.p, "durable", api.DefaultNamespace, "GET", "/", "")
}

func TestStartKillsLeftovers(t *testing.T) {
	dir := t.TempDir()
	spawn := func() int {
		cmd := execSleep(t)
		return cmd
	}
	ours, other := spawn(), spawn()
	replicas := filepath.Join(dir, "process", "replicas")
	for i, rec := range []record{
		{PID: ours, StartTime: startTimeOf("/proc", ours), Function: "old"},
		// A recorded pid whose start time does not match is another process.
		{PID: other, StartTime: startTimeOf("/proc", other) + 1, Function: "reused"},
	} {
		rd := filepath.Join(replicas, fmt.Sprint("r", i))
		if err := os.MkdirAll(rd, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := writeRecord(rd, rec); err != nil {
			t.Fatal(err)
		}
	}
	newEnv(t, IsolationPorts, dir)
	checkFor(t, 5*time.Second, func() error {
		if alive(ours) {
			return fmt.Errorf("leftover %d still alive", ours)
		}
		return nil
	})
	if !alive(other) {
		t.Fatal("Start killed a process whose start time did not match")
	}
	if entries, _ := os.ReadDir(replicas); len(entries) != 0 {
		t.Fatalf("leftover replica dirs not removed: %v", entries)
	}
}

// execSleep starts "sleep 60" in its own process group, as a replica
// would be, and returns its pid; the test kills it at the end.
func execSleep(t *testing.T) int {
	t.Helper()
	attr := &os.ProcAttr{Sys: &syscall.SysProcAttr{Setpgid: true}}
	sleep := "/bin/sleep"
	if _, err := os.Stat(sleep); err != nil {
		sleep = "/usr/bin/sleep"
	}
	proc, err := os.StartProcess(sleep, []string{"sleep", "60"}, attr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_, _ = proc.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = proc.Kill()
		<-done
	})
	return proc.Pid
}

func TestUsage(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	if err := e.p.Deploy(t.Context(), echoFn("use")); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, e.p, "use", api.DefaultNamespace, 1)
	st, err := e.p.Function(t.Context(), "use", api.DefaultNamespace, true)
	if err != nil || st.Usage == nil || st.Usage.TotalMemoryBytes < 1<<20 || st.Usage.CPU < 0 {
		t.Fatalf("usage = %+v, %v", st.Usage, err)
	}
	if st, _ := e.p.Function(t.Context(), "use", api.DefaultNamespace, false); st.Usage != nil {
		t.Fatal("usage reported without being asked for")
	}
}

func TestInfoAndLimits(t *testing.T) {
	e := newEnv(t, IsolationPorts, "")
	info := e.p.Info(t.Context())
	if info.Name != "gofaas-process" || info.Orchestration != "process" || info.Version == nil {
		t.Fatalf("Info = %+v", info)
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil && e.p.LimitsEnforced() {
		t.Fatal("LimitsEnforced without cgroup v2")
	}
	if e.p.Isolation() != IsolationPorts {
		t.Fatalf("Isolation = %s", e.p.Isolation())
	}
}
