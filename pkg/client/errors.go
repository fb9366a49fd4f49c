package client

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// Sentinels a *StatusError matches with errors.Is, by status code.
var (
	// ErrNotFound matches a 404 answer.
	ErrNotFound = errors.New("not found")
	// ErrConflict matches a 409 answer (the secret or namespace exists).
	ErrConflict = errors.New("already exists")
	// ErrUnauthorized matches a 401 answer.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotImplemented matches a 501 answer (the back-end lacks the feature).
	ErrNotImplemented = errors.New("not implemented")
)

// maxErrorBody is how much of an error answer a StatusError keeps.
const maxErrorBody = 4 << 10

// StatusError is an answer with an unexpected status code.
type StatusError struct {
	// Code is the HTTP status code.
	Code int
	// Body is the answer's body, trimmed and cut at 4 KiB.
	Body string
	// Method and Path are those of the request.
	Method, Path string
}

func newStatusError(code int, method, path string, body []byte) *StatusError {
	if len(body) > maxErrorBody {
		body = body[:maxErrorBody]
	}
	return &StatusError{Code: code, Body: strings.TrimSpace(string(body)), Method: method, Path: path}
}

// Error reads like "gateway answered 404 Not Found for GET
// /system/function/x: no such function".
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("gateway answered %d %s for %s %s", e.Code, http.StatusText(e.Code), e.Method, e.Path)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Code == http.StatusUnauthorized {
		msg += " (log in with `gofaas login`, or pass --token)"
	}
	return msg
}

// Is lets errors.Is match the sentinels above.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrConflict:
		return e.Code == http.StatusConflict
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized
	case ErrNotImplemented:
		return e.Code == http.StatusNotImplemented
	}
	return false
}

// ConnectError is a request that got no answer from the gateway.
type ConnectError struct {
	// Gateway is the gateway's URL.
	Gateway string
	// Err is the transport's error.
	Err error
}

// Error names the gateway and, when nothing listens there, says how to get
// one.
func (e *ConnectError) Error() string {
	inner := e.Err
	var ue *url.Error
	if errors.As(inner, &ue) {
		inner = ue.Err
	}
	msg := fmt.Sprintf("cannot reach the gateway at %s: %v", e.Gateway, inner)
	if e.Refused() {
		msg += "\nstart one with `gofaas server`, or point at yours with --gateway or OPENFAAS_URL"
	}
	return msg
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Refused reports whether the connection was refused, that is no server
// listens at the gateway's address.
func (e *ConnectError) Refused() bool {
	var op *net.OpError
	return errors.Is(e.Err, syscall.ECONNREFUSED) || (errors.As(e.Err, &op) && op.Op == "dial" && strings.Contains(op.Err.Error(), "refused"))
}
