// Package lane owns a lean HTTP/1.1 server for the hot path of the
// gateway and the watchdog: the ordinary request (HTTP/1.1, a small body of
// known length, no upgrade, no 100-continue) is parsed, handed to an
// http.Handler and answered by the connection's own goroutine, with no
// per-request goroutine, background read or deadline change.
//
// Every connection starts in the lane. The first request the lane would
// not serve the way net/http does (see Server.serveable) hands the whole
// connection, with the bytes already read, to the wrapped *http.Server for
// good; so the lane never answers anything net/http would answer
// differently, and net/http keeps owning HTTP/2, upgrades, chunked uploads,
// odd framing and malformed requests.
//
// Answers follow net/http's: the Date header, Content-Type sniffing,
// Content-Length for short finished bodies and chunked encoding otherwise,
// trailers, HEAD, 1xx, 204 and 304, keep-alive and Connection: close. The
// request context ends when the handler returns or, for a call that lasts,
// when the client goes away.
//
// A Shortcut (Server.Shortcut) may answer a request the lane read before
// any http.Request is built, from its raw header lines (Exchange); the
// gateway and the watchdog relay ordinary calls that way.
//
// The lane does not call the http.Server's BaseContext, ConnContext or
// ConnState hooks and ignores SetKeepAlivesEnabled; a server that relies
// on them must not be wrapped (gofaas and fwatchdog do not).
//
// It is a leaf: it imports the standard library only.
package lane
