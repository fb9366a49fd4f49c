package process

import (
	"net/url"
	"testing"
)

// TestFunctionAt checks that at walks replicas then retiring ones, as all()
// lists them, without building that list.
func TestFunctionAt(t *testing.T) {
	t.Parallel()
	r := func() *replica { return &replica{} }
	tests := []struct {
		name               string
		replicas, retiring []*replica
	}{
		{"replicas only", []*replica{r(), r()}, nil},
		{"retiring only", nil, []*replica{r()}},
		{"both", []*replica{r()}, []*replica{r(), r()}},
	}
	for _, tc := range tests {
		fn := &function{replicas: tc.replicas, retiring: tc.retiring}
		all := fn.all()
		for i := range all {
			if fn.at(i) != all[i] {
				t.Errorf("%s: at(%d) is not all()[%d]", tc.name, i, i)
			}
		}
	}
}

// TestTargetRelease checks a Target's Done: it releases the replica's
// in-flight count once however often it is called, and the URL is the
// caller's own copy.
func TestTargetRelease(t *testing.T) {
	t.Parallel()
	r := &replica{}
	ep := endpoint{url: &url.URL{Scheme: "http", Host: "fn-1"}}
	a, b := r.target(ep), r.target(ep)
	if n := r.inflight.Load(); n != 2 {
		t.Fatalf("in flight %d, want 2", n)
	}
	a.Done()
	a.Done()
	if n := r.inflight.Load(); n != 1 {
		t.Errorf("in flight %d after Done twice on one target, want 1", n)
	}
	a.URL.Host = "changed"
	if ep.url.Host != "fn-1" || b.URL.Host != "fn-1" {
		t.Error("a target's URL is shared")
	}
	b.Done()
	if n := r.inflight.Load(); n != 0 {
		t.Errorf("in flight %d, want 0", n)
	}
}
