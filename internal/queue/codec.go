package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
)

// A queued call is stored in a compact binary form: the JSON form with a
// base64 body cost more CPU to write and read than storing the call did
// (bench/async/run.sh). The form is
//
//	magic "\xf0GQ" and version 1
//	Function, Method, Path, QueryString, Host, QueueName, CallbackUrl
//	Header: count, then per key: key, count of values, values
//	Annotations: count, then key and value pairs
//	Body
//
// where every count is a uvarint and every string and the body is a
// uvarint length followed by the bytes. Calls stored as JSON by earlier
// versions (and by tools that write OpenFaaS's QueueRequest) still decode:
// JSON never starts with the magic.
const (
	codecMagic   = "\xf0GQ"
	codecVersion = 1
)

var errTruncated = errors.New("truncated binary message")

// isBinary reports whether data starts with the binary form's magic.
func isBinary(data []byte) bool {
	return len(data) >= len(codecMagic) && string(data[:len(codecMagic)]) == codecMagic
}

// appendBinary appends m in the binary form to b.
func appendBinary(b []byte, m *Message) []byte {
	b = append(b, codecMagic...)
	b = append(b, codecVersion)
	for _, s := range [...]string{m.Function, m.Method, m.Path, m.QueryString, m.Host, m.QueueName, m.CallbackUrl} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Header)))
	for k, vs := range m.Header {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(m.Annotations)))
	for k, v := range m.Annotations {
		b = appendString(b, k)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Body)))
	return append(b, m.Body...)
}

// binarySize is an upper bound of m's binary form's length.
func binarySize(m *Message) int {
	n := len(codecMagic) + 1 + 7*binary.MaxVarintLen64 + len(m.Function) + len(m.Method) + len(m.Path) +
		len(m.QueryString) + len(m.Host) + len(m.QueueName) + len(m.CallbackUrl)
	n += binary.MaxVarintLen64
	for k, vs := range m.Header {
		n += 2*binary.MaxVarintLen64 + len(k)
		for _, v := range vs {
			n += binary.MaxVarintLen64 + len(v)
		}
	}
	n += binary.MaxVarintLen64
	for k, v := range m.Annotations {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	return n + binary.MaxVarintLen64 + len(m.Body)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeBinary reads the binary form. The body shares data's memory.
func decodeBinary(data []byte) (Message, error) {
	r := reader{data: data[len(codecMagic):]}
	if v := r.byte(); v != codecVersion {
		return Message{}, fmt.Errorf("binary message version %d: this gofaas reads version %d", v, codecVersion)
	}
	var m Message
	for _, s := range [...]*string{&m.Function, &m.Method, &m.Path, &m.QueryString, &m.Host, &m.QueueName, &m.CallbackUrl} {
		*s = r.string()
	}
	if n := r.count(); n > 0 {
		m.Header = make(http.Header, n)
		for range n {
			k := r.string()
			vs := make([]string, r.count())
			for i := range vs {
				vs[i] = r.string()
			}
			m.Header[k] = vs
		}
	}
	if n := r.count(); n > 0 {
		m.Annotations = make(map[string]string, n)
		for range n {
			k := r.string()
			m.Annotations[k] = r.string()
		}
	}
	m.Body = r.bytes()
	if r.err == nil && len(r.data) > 0 {
		r.err = fmt.Errorf("%d bytes after the body", len(r.data))
	}
	return m, r.err
}

// reader consumes the binary form; after the first error every read
// returns a zero value and err stays set.
type reader struct {
	data []byte
	err  error
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.data) == 0 {
		r.fail()
		return 0
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.data = r.data[n:]
	return v
}

// count reads a number of entries; each entry takes at least one byte, so
// a count above the bytes left is an error, not a large allocation.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.data)) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) fail() {
	if r.err == nil {
		r.err = errTruncated
	}
	r.data = nil
}
