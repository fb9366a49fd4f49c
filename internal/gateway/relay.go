package gateway

import (
	"net/http"

	"github.com/gofaas/gofaas/internal/lane"
	"github.com/gofaas/gofaas/internal/proxy"
	"github.com/gofaas/gofaas/pkg/api"
)

// Relay lets the lane answer ordinary invocations below the http.Handler
// level (proxy.Proxy.Relay) with the call ID and timing headers callID
// adds; it returns false, having done nothing, for every other request.
// cmd/gofaas hands it to the lane.
func (g *Gateway) Relay(ex *lane.Exchange) bool {
	if !isInvokePath(ex.Method, ex.URL.Path, ex.URL.RawPath) {
		return false
	}
	d := &relayCall{call: g.newCall(ex.Get(api.HeaderCallID)), ids: g.ids}
	d.newID = d.id == ""
	return g.proxy.Relay(ex, d.start, d)
}

// relayCall is callID's work for one relayed invocation.
type relayCall struct {
	call
	newID bool // the client sent none: one is made, and goes upstream
	ids   *callIDs
}

// callID returns the call's id, made on first use, once the proxy relays:
// a declined call spends none.
func (d *relayCall) callID() string {
	if d.id == "" {
		d.id = d.ids.next()
	}
	return d.id
}

func (d *relayCall) RequestHeader(b []byte) []byte {
	if d.newID {
		b = appendLine(b, api.HeaderCallID, d.callID())
	}
	return appendLine(b, api.HeaderStartTime, d.startText)
}

func (d *relayCall) DropRequest(name []byte) bool {
	return string(name) == api.HeaderStartTime || (d.newID && string(name) == api.HeaderCallID)
}

func (d *relayCall) ResponseHeader(b []byte, hasDuration bool) []byte {
	b = appendLine(b, api.HeaderCallID, d.callID())
	b = appendLine(b, api.HeaderStartTime, d.startText)
	b = appendLine(b, api.HeaderServedBy, d.servedBy)
	if !hasDuration {
		b = appendLine(b, api.HeaderDuration, d.duration())
	}
	return b
}

func (d *relayCall) DropResponse(name []byte) bool {
	switch string(name) {
	case api.HeaderCallID, api.HeaderStartTime, api.HeaderServedBy:
		return true
	}
	return false
}

func (d *relayCall) Wrap(w http.ResponseWriter) http.ResponseWriter {
	d.callID()
	return &callWriter{ResponseWriter: w, call: d.call}
}

func appendLine(b []byte, k, v string) []byte {
	b = append(b, k...)
	b = append(b, ": "...)
	b = append(b, v...)
	return append(b, "\r\n"...)
}

var _ proxy.Decoration = (*relayCall)(nil)
