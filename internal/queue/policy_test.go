package queue

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

func TestRetryPolicyFromAnnotations(t *testing.T) {
	t.Parallel()
	def := DefaultRetryPolicy()
	tests := []struct {
		name string
		a    map[string]string
		want RetryPolicy
	}{
		{"none", nil, def},
		{"all", map[string]string{AnnotationRetryAttempts: "3", AnnotationRetryCodes: "429, 503", AnnotationRetryMinWait: "250ms", AnnotationRetryMaxWait: "5"},
			RetryPolicy{Attempts: 3, Codes: []int{429, 503}, MinWait: 250 * time.Millisecond, MaxWait: 5 * time.Second}},
		{"bad values ignored", map[string]string{AnnotationRetryAttempts: "zero", AnnotationRetryCodes: "x,999", AnnotationRetryMinWait: "-1s"}, def},
		{"max below min is raised", map[string]string{AnnotationRetryMinWait: "2m"},
			RetryPolicy{Attempts: def.Attempts, Codes: def.Codes, MinWait: 2 * time.Minute, MaxWait: 2 * time.Minute}},
	}
	for _, tt := range tests {
		got := def.withAnnotations(tt.a)
		if got.Attempts != tt.want.Attempts || !slices.Equal(got.Codes, tt.want.Codes) || got.MinWait != tt.want.MinWait || got.MaxWait != tt.want.MaxWait {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestBackoffGrowsWithinBounds(t *testing.T) {
	t.Parallel()
	p := RetryPolicy{Attempts: 10, MinWait: 100 * time.Millisecond, MaxWait: 2 * time.Second}
	for attempt := 1; attempt <= 40; attempt++ {
		full := min(p.MinWait<<min(attempt-1, 30), p.MaxWait)
		for range 20 {
			d := p.backoff(attempt, 0)
			if d < full/2 || d > full {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := p.backoff(1, 30*time.Second); d != 30*time.Second {
		t.Errorf("Retry-After 30s gave %v", d)
	}
	if d := p.backoff(1, 48*time.Hour); d != maxRetryAfter {
		t.Errorf("huge Retry-After gave %v, want the cap %v", d, maxRetryAfter)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{"-3", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"soon", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	if got := token("0b6c-AF_9"); got != "0b6c-AF_9" {
		t.Errorf("plain id changed: %q", got)
	}
	for _, id := range []string{"a.b", "a b", "*", ">", "ü", string(make([]byte, 200))} {
		tok := token(id)
		if !validQueueName(tok) || tok == token(id+"x") {
			t.Errorf("token(%q) = %q: not a distinct subject token", id, tok)
		}
	}
}

// FuzzDecode checks that Decode never panics, and that what it accepts
// (binary or JSON) re-encodes to a message it accepts again unchanged.
func FuzzDecode(f *testing.F) {
	good := Message{Header: http.Header{api.HeaderCallID: {"id"}}, Method: "POST", Function: "fn.ns",
		Path: "/a", QueryString: "x=1", Body: []byte("hi"), CallbackUrl: "http://127.0.0.1:1/cb"}
	b, _ := good.Encode()
	j, _ := encodeJSON(good)
	for _, s := range []string{string(b), string(j), "", "{}", "null", codecMagic, `{"Function":"a.b","Method":"GET"}`,
		`{"Header":{"X-Call-Id":["x"]},"Method":"GET","Function":"f.n","Path":"nos"}`,
		`{"Header":{"X-Call-Id":["x"]},"Method":"GET","Function":"f.n","CallbackUrl":"ftp://x"}`} {
		f.Add([]byte(s))
	}
	for _, name := range []string{"message-v0.json", "message-v1.bin"} {
		if data, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded message refused: %v", err)
		}
		if !sameMessage(m, m2) {
			t.Fatalf("round trip changed the message: %+v vs %+v", m, m2)
		}
	})
}
