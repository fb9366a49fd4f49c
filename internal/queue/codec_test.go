package queue

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/message-v*")

// storedCall is the call in testdata/: message-v0.json as gofaas stored it
// before the binary form, message-v1.bin in the binary form.
func storedCall() Message {
	return Message{
		Header:      http.Header{api.HeaderCallID: {"call-1"}, "X-Many": {"a", "b"}, "Content-Type": {"text/plain"}},
		Host:        "gw.example:8080",
		Body:        []byte("body \x00\xff bytes"),
		Method:      "PUT",
		Path:        "/a/b%2Fc",
		QueryString: "x=1&y=2",
		Function:    "fn.openfaas-fn",
		QueueName:   "slow",
		Annotations: map[string]string{AnnotationRetryAttempts: "3", "com.openfaas.queue": "slow"},
		CallbackUrl: "https://cb.example/done?k=v",
	}
}

// TestDecodeReadsEveryStoredForm decodes the files of every format version
// ever written: queued calls survive upgrades, so none may stop decoding.
func TestDecodeReadsEveryStoredForm(t *testing.T) {
	t.Parallel()
	if *updateGolden {
		// v0 is what the JSON encoder wrote before the binary form.
		v0, _ := encodeJSON(storedCall())
		m := storedCall()
		v1, _ := m.Encode()
		for name, b := range map[string][]byte{"message-v0.json": v0, "message-v1.bin": v1} {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range []string{"message-v0.json", "message-v1.bin"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if want := storedCall(); !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	minimal := Message{Header: http.Header{api.HeaderCallID: {"m"}}, Method: "GET", Function: "f.ns"}
	tests := []struct {
		name string
		m    Message
	}{
		{"every field", storedCall()},
		{"minimal", minimal},
		{"large body", Message{Header: minimal.Header, Method: "POST", Function: "f.ns", Body: bytes.Repeat([]byte("x"), 300_000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > binarySize(&tt.m) {
				t.Errorf("encoded %d bytes, size bound %d", len(b), binarySize(&tt.m))
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !sameMessage(got, tt.m) {
				t.Errorf("round trip: got %+v, want %+v", got, tt.m)
			}
		})
	}
}

func TestDecodeRefusesDamagedBinary(t *testing.T) {
	t.Parallel()
	m := storedCall()
	good, _ := m.Encode()
	tests := []struct {
		name string
		data []byte
	}{
		{"magic only", []byte(codecMagic)},
		{"unknown version", append([]byte(codecMagic), 9)},
		{"cut in the body", good[:len(good)-3]},
		{"cut in the fields", good[:12]},
		{"trailing bytes", append(append([]byte(nil), good...), 'x')},
		{"huge count", append([]byte(codecMagic+"\x01"), 0xff, 0xff, 0xff, 0xff, 0x0f)},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.data); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: got %v, want ErrBadMessage", tt.name, err)
		}
	}
}

// sameMessage compares messages, treating nil and empty maps and bodies
// alike.
func sameMessage(a, b Message) bool {
	norm := func(m Message) Message {
		if len(m.Header) == 0 {
			m.Header = nil
		}
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
		if len(m.Body) == 0 {
			m.Body = nil
		}
		return m
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func BenchmarkEncode(b *testing.B) {
	m := storedCall()
	for b.Loop() {
		m.Encode()
	}
}

func BenchmarkDecode(b *testing.B) {
	m := storedCall()
	for _, form := range []string{"binary", "json"} {
		data, _ := m.Encode()
		if form == "json" {
			data, _ = encodeJSON(m)
		}
		b.Run(form, func(b *testing.B) {
			for b.Loop() {
				Decode(data)
			}
		})
	}
}

// TestWorkerRunsCallsStoredAsJSON: calls queued by an older gofaas (JSON)
// are still in the stream after an upgrade and must run.
func TestWorkerRunsCallsStoredAsJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 5*time.Second)
	m := Message{Header: http.Header{api.HeaderCallID: {"old"}}, Method: "POST", Function: "fn.openfaas-fn", Body: []byte("from v0")}
	data, err := encodeJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.q.publish(t.Context(), subjectCalls+DefaultQueue+".old", data); err != nil {
		t.Fatal(err)
	}
	h.run(WorkerConfig{})
	checkFor(t, 10*time.Second, 20*time.Millisecond, wantCalls(h, "old", 1))
	if c := h.callsOf("old")[0]; c.body != "from v0" || c.path != "/function/fn.openfaas-fn" {
		t.Errorf("function saw %+v", c)
	}
}
