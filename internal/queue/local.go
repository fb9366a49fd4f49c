package queue

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
)

// ErrNoHandler: a LocalInvoker was used before its handler was set.
var ErrNoHandler = errors.New("no local handler yet")

var errBodyTooLarge = errors.New("response body above the local invoker's bound")

// LocalInvoker is an Invoker that serves requests with an http.Handler in
// this process instead of sending them over a connection: in `gofaas
// server` the worker calls the gateway's handler directly, which saves the
// loopback HTTP round trip (a fifth of the server's CPU per async call in
// bench/async/run.sh). The gateway's metrics, scale from zero and timeouts
// apply as over HTTP. The zero value is ready; Set the handler before the
// worker runs.
type LocalInvoker struct {
	h atomic.Pointer[http.Handler]
	// MaxBody bounds the response body kept (default 64 MiB). A handler
	// writing more gets an error, as it would from a client that stopped
	// reading and hung up.
	MaxBody int64
}

var _ Invoker = (*LocalInvoker)(nil)

// Set sets the handler requests go to.
func (l *LocalInvoker) Set(h http.Handler) { l.h.Store(&h) }

// Do serves req with the handler and returns its buffered response. The
// request looks to the handler as one from 127.0.0.1 would. A handler that
// panics fails the call with an error, as a dropped connection would.
func (l *LocalInvoker) Do(req *http.Request) (res *http.Response, err error) {
	hp := l.h.Load()
	if hp == nil {
		return nil, ErrNoHandler
	}
	in := serverRequest(req)
	rec := &recorder{header: http.Header{}, max: l.MaxBody}
	if rec.max <= 0 {
		rec.max = 64 << 20
	}
	defer func() {
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("local handler for %s: panic: %v", req.URL.Path, p)
		}
	}()
	(*hp).ServeHTTP(rec, in)
	return rec.response(req), nil
}

// serverRequest is req as an http.Server would hand it to a handler.
func serverRequest(req *http.Request) *http.Request {
	in := req.Clone(req.Context())
	in.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.RemoteAddr = "127.0.0.1:0"
	in.Proto, in.ProtoMajor, in.ProtoMinor = "HTTP/1.1", 1, 1
	if in.Body == nil {
		in.Body = http.NoBody
	}
	if in.ContentLength > 0 {
		in.Header.Set("Content-Length", strconv.FormatInt(in.ContentLength, 10))
	}
	return in
}

// recorder is the handler's http.ResponseWriter: it keeps the status, the
// headers as they were when the status was written, and up to max bytes of
// the body.
type recorder struct {
	header, sent http.Header
	code         int
	body         bytes.Buffer
	max          int64
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 {
		r.code = code
		r.sent = r.header.Clone()
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	room := r.max - int64(r.body.Len())
	if int64(len(p)) > room {
		r.body.Write(p[:max(room, 0)])
		return int(max(room, 0)), errBodyTooLarge
	}
	return r.body.Write(p)
}

// Flush lets streaming handlers flush; the body is buffered anyway.
func (r *recorder) Flush() { r.WriteHeader(http.StatusOK) }

func (r *recorder) response(req *http.Request) *http.Response {
	r.WriteHeader(http.StatusOK)
	return &http.Response{
		Status:     strconv.Itoa(r.code) + " " + http.StatusText(r.code),
		StatusCode: r.code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: r.sent, Body: io.NopCloser(bytes.NewReader(r.body.Bytes())),
		ContentLength: int64(r.body.Len()), Request: req,
	}
}
