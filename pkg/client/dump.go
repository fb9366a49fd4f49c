package client

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxDumpBody is the largest request or response body written by WithDump.
const maxDumpBody = 64 << 10

// dumpRequest writes the request line, headers (Authorization redacted) and,
// when it can be read again, the body.
func (c *Client) dumpRequest(req *http.Request) {
	if c.dump == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "> %s %s\n", req.Method, req.URL)
	writeHeaders(&b, "> ", req.Header)
	if req.GetBody != nil && req.ContentLength > 0 && req.ContentLength <= maxDumpBody {
		if body, err := req.GetBody(); err == nil {
			data := make([]byte, req.ContentLength)
			n, _ := io.ReadFull(body, data)
			body.Close()
			fmt.Fprintf(&b, ">\n%s\n", data[:n])
		}
	}
	fmt.Fprintln(c.dump, b.String())
}

// dumpResponse writes the status, headers and body (nil for a stream).
func (c *Client) dumpResponse(resp *http.Response, body []byte) {
	if c.dump == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "< %s %s\n", resp.Proto, resp.Status)
	writeHeaders(&b, "< ", resp.Header)
	switch {
	case body == nil:
		b.WriteString("<\n(body streamed, not dumped)\n")
	case len(body) > maxDumpBody:
		fmt.Fprintf(&b, "<\n%s\n(%d more bytes)\n", body[:maxDumpBody], len(body)-maxDumpBody)
	case len(body) > 0:
		fmt.Fprintf(&b, "<\n%s\n", body)
	}
	fmt.Fprintln(c.dump, b.String())
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.EqualFold(k, "Authorization") {
				scheme, _, _ := strings.Cut(v, " ")
				v = scheme + " [redacted]"
			}
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, v)
		}
	}
}
