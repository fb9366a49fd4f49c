package queue

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// Message is one queued call. Its fields follow the OpenFaaS QueueRequest
// (spec §7); CallbackUrl is a URL string here. Encode stores it in a
// compact binary form (codec.go); Decode reads that form and the
// QueueRequest JSON, which earlier gofaas versions stored.
type Message struct {
	// Header holds the request headers, including X-Call-Id and X-Start-Time.
	Header http.Header `json:"Header"`
	// Host is the Host the caller used.
	Host string `json:"Host"`
	// Body is the request body (base64 in JSON).
	Body []byte `json:"Body"`
	// Method is the HTTP method of the original request.
	Method string `json:"Method"`
	// Path is the sub-path after the function name ("" or "/a/b").
	Path string `json:"Path"`
	// QueryString is the raw query without '?'.
	QueryString string `json:"QueryString"`
	// Function is "name.namespace".
	Function string `json:"Function"`
	// QueueName is the queue the call went to ("" means the default one).
	QueueName string `json:"QueueName"`
	// Annotations are the function's annotations at enqueue time; the
	// com.openfaas.retry.* ones set the retry policy.
	Annotations map[string]string `json:"Annotations"`
	// CallbackUrl receives the result when non-empty.
	CallbackUrl string `json:"CallbackUrl,omitempty"`
}

// CallID returns the call's X-Call-Id.
func (m *Message) CallID() string { return m.Header.Get(api.HeaderCallID) }

// ErrBadMessage marks a stored message that cannot be decoded or is
// incomplete; the worker drops such messages.
var ErrBadMessage = errors.New("bad queue message")

// Encode returns the message as stored, in the binary form.
func (m *Message) Encode() ([]byte, error) {
	return appendBinary(make([]byte, 0, binarySize(m)), m), nil
}

// Decode parses and checks a stored message, binary or JSON. The body of a
// binary message shares data's memory.
func Decode(data []byte) (Message, error) {
	var m Message
	var err error
	if isBinary(data) {
		m, err = decodeBinary(data)
	} else {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if err := m.Validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Validate checks what the worker relies on: a function name, a call id,
// a method, a sub-path starting with '/', and a callback URL that is an
// absolute http(s) URL.
func (m *Message) Validate() error {
	name, ns := api.SplitName(m.Function)
	switch {
	case api.ValidateName("function", name) != nil || api.ValidateName("namespace", ns) != nil:
		return fmt.Errorf("%w: function %q is not name.namespace", ErrBadMessage, m.Function)
	case m.CallID() == "":
		return fmt.Errorf("%w: no %s", ErrBadMessage, api.HeaderCallID)
	case !validMethod(m.Method):
		return fmt.Errorf("%w: method %q", ErrBadMessage, m.Method)
	case m.Path != "" && !strings.HasPrefix(m.Path, "/"):
		return fmt.Errorf("%w: path %q", ErrBadMessage, m.Path)
	case strings.ContainsAny(m.Path, "?#") || strings.ContainsAny(m.QueryString, "#"):
		return fmt.Errorf("%w: path or query holds '?' or '#'", ErrBadMessage)
	}
	if m.CallbackUrl != "" {
		if _, err := ParseCallbackURL(m.CallbackUrl); err != nil {
			return fmt.Errorf("%w: %w", ErrBadMessage, err)
		}
	}
	return nil
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodHead:
		return true
	}
	return false
}

// ParseCallbackURL checks an X-Callback-Url: an absolute http or https URL
// with a host.
func ParseCallbackURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("callback URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("callback URL %q: want an absolute http:// or https:// URL", s)
	}
	return u, nil
}

// token turns a call id into a subject token: ids made of letters, digits,
// '-' and '_' (UUIDs) are kept; others become a hash.
func token(callID string) string {
	ok := callID != "" && len(callID) <= 128
	for i := 0; ok && i < len(callID); i++ {
		c := callID[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if ok {
		return callID
	}
	sum := sha256.Sum256([]byte(callID))
	return "h" + hex.EncodeToString(sum[:16])
}

// validQueueName reports whether s can name a queue (a subject token and
// part of a consumer name).
func validQueueName(s string) bool {
	return s != "" && token(s) == s && len(s) <= 64
}

// DeadLetter is a call that failed for good, as stored in the dead-letter
// stream.
type DeadLetter struct {
	// Message is the call as it was queued.
	Message Message `json:"message"`
	// Status is the last HTTP status (0 when the function was unreachable).
	Status int `json:"status"`
	// Error describes the last failure.
	Error string `json:"error,omitempty"`
	// Body is the start of the last response body.
	Body string `json:"body,omitempty"`
	// Attempts is how many times the function was called.
	Attempts int `json:"attempts"`
	// FailedAt is when the call was given up.
	FailedAt time.Time `json:"failedAt"`
}

// callback is a result waiting to be posted to an X-Callback-Url.
type callback struct {
	URL      string        `json:"url"`
	Function string        `json:"function"`
	CallID   string        `json:"callId"`
	Status   int           `json:"status"`
	Header   http.Header   `json:"header"`
	Body     []byte        `json:"body"`
	Duration time.Duration `json:"duration"`
	MinWait  time.Duration `json:"minWait"`
	MaxWait  time.Duration `json:"maxWait"`
}

func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding: %w", err)
	}
	return b, nil
}

func decodeDeadLetter(data []byte) (DeadLetter, error) {
	var dl DeadLetter
	if err := json.Unmarshal(data, &dl); err != nil {
		return DeadLetter{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return dl, nil
}

func decodeCallback(data []byte) (callback, error) {
	var cb callback
	if err := json.Unmarshal(data, &cb); err != nil {
		return callback{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if _, err := ParseCallbackURL(cb.URL); err != nil {
		return callback{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return cb, nil
}
