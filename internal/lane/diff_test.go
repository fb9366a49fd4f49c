package lane

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// diffHandler behaves by path; what it observes goes to rec.
func diffHandler(rec *recorder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/r/")
		note := func(what string, err error) { rec.add("%s %s: %v", name, what, err) }
		write := func(s string) {
			n, err := io.WriteString(w, s)
			rec.add("%s write(%d)=%d,%v", name, len(s), n, err)
		}
		h := w.Header()
		switch name {
		case "none":
		case "wh200", "wh204", "wh304", "wh404", "wh500", "wh299", "wh600":
			var code int
			fmt.Sscanf(name, "wh%d", &code)
			w.WriteHeader(code)
		case "wh204body":
			w.WriteHeader(204)
			write("x")
		case "wh304typed":
			h.Set("Content-Type", "text/html")
			h.Set("Content-Length", "10")
			h.Set("Etag", `"x"`)
			w.WriteHeader(304)
		case "html":
			write("<html><body>hi</body></html>")
		case "json":
			write(`{"a": 1}`)
		case "binary":
			write("\x00\x01\x02\x03\xff")
		case "typed":
			h.Set("Content-Type", "application/json")
			write(`{}`)
		case "typednil":
			h["Content-Type"] = nil
			write("<html>")
		case "b2048", "b2049", "b100k", "b4000":
			n := map[string]int{"b2048": 2048, "b2049": 2049, "b100k": 100 << 10, "b4000": 4000}[name]
			write(strings.Repeat("a", n))
		case "b2049w", "b100kw":
			n, err := w.Write([]byte(strings.Repeat("w", map[string]int{"b2049w": 2049, "b100kw": 100 << 10}[name])))
			rec.add("%s Write=%d,%v", name, n, err)
		case "multiw":
			for _, n := range []int{1000, 1500, 3000, 10, 2048, 1} {
				k, err := w.Write(make([]byte, n))
				rec.add("%s Write(%d)=%d,%v", name, n, k, err)
			}
		case "multi":
			write(strings.Repeat("a", 1000))
			write(strings.Repeat("b", 1500))
			write(strings.Repeat("c", 3000))
			write(strings.Repeat("d", 10))
		case "clright":
			h.Set("Content-Length", "5")
			write("hello")
		case "clshort":
			h.Set("Content-Length", "10")
			write("hello")
		case "cllong":
			h.Set("Content-Length", "3")
			write("hello")
			write("hel")
		case "clinvalid":
			h.Set("Content-Length", "abc")
			write("hello")
		case "clzero":
			h.Set("Content-Length", "0")
		case "clsniff":
			h.Set("Content-Length", "13")
			write("<html>hi</a>\n")
		case "flush":
			write("a")
			w.(http.Flusher).Flush()
			write("b")
			w.(http.Flusher).Flush()
			write("c")
		case "flushfirst":
			w.(http.Flusher).Flush()
			write("late")
		case "flushcl":
			h.Set("Content-Length", "2")
			write("a")
			w.(http.Flusher).Flush()
			write("b")
		case "trailer":
			h.Set("Trailer", "X-T, x-u")
			h.Add("Trailer", "X-V")
			write("body")
			h.Set("X-T", "t1")
			h.Add("X-U", "u1")
			h.Add("X-U", "u2")
		case "trailerbig":
			h.Set("Trailer", "X-T")
			write(strings.Repeat("z", 3000))
			h.Set("X-T", "t")
		case "trailerbad":
			h.Set("Trailer", "Content-Length, X-Ok, ,")
			write("x")
			h.Set("X-Ok", "ok")
			h.Set("Content-Length", "99")
		case "trailerprefix":
			h.Set(http.TrailerPrefix+"X-Early", "e")
			write("body")
			h.Set(http.TrailerPrefix+"X-P", "p")
		case "trailerlate":
			write("body")
			h.Set(http.TrailerPrefix+"X-P", "p")
		case "trailerlatebig":
			write(strings.Repeat("q", 3000))
			h.Set(http.TrailerPrefix+"X-P", "p")
		case "head":
			write("hello")
		case "headbig":
			write(strings.Repeat("h", 100<<10))
		case "headcl":
			h.Set("Content-Length", "42")
		case "afterwh":
			h.Set("X-A", "a")
			w.WriteHeader(200)
			h.Set("X-B", "b")
			h.Set("Content-Type", "late/type")
			write("<html>")
		case "afterwrite":
			write("x")
			h.Set("X-B", "b")
		case "info103":
			h.Set("Link", "</a.css>; rel=preload")
			h.Set("Content-Length", "7")
			w.WriteHeader(103)
			h.Del("Content-Length")
			h.Set("X-Final", "f")
			w.WriteHeader(200)
			write("final")
		case "info100":
			w.WriteHeader(100)
			w.WriteHeader(102)
			write("ok")
		case "superfluous":
			w.WriteHeader(201)
			w.WriteHeader(202)
			write("x")
		case "connclose":
			h.Set("Connection", "close")
			write("bye")
		case "connclosebig":
			h.Set("Connection", "close")
			write(strings.Repeat("c", 3000))
		case "connkeep":
			h.Set("Connection", "keep-alive")
			write("stay")
		case "connodd":
			h.Set("Connection", "close, foo")
			write("odd")
		case "ce":
			h.Set("Content-Encoding", "gzip")
			write("<html>not really gzip")
		case "ceempty":
			h.Set("Content-Encoding", "")
			write("<html>")
		case "odd":
			h.Set("X-Newline", "a\r\nb\nc")
			h.Set("X-Space", "  padded \t ")
			h.Set("X-Utf8", "ümlaut")
			h.Set("X-Empty", "")
			h["Bad Name"] = []string{"v"}
			h["lower-case"] = []string{"raw"}
			h.Set("X-Quote", `"q" ; a=b, c`)
			write("ok")
		case "multivalue":
			h.Add("X-M", "a")
			h.Add("X-M", "b")
			h.Add("Set-Cookie", "a=1")
			h.Add("Set-Cookie", "b=2")
			write("m")
		case "sorted":
			for _, k := range []string{"Zeta", "Alpha", "X-Mid", "Content-Length", "Beta", "Cache-Control", "Vary", "Connection", "Etag"} {
				h.Set(k, "v-"+k)
			}
			h.Set("Content-Length", "2")
			h.Set("Connection", "keep-alive")
			write("ok")
		case "date":
			h.Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT")
			write("d")
		case "teChunked":
			h.Set("Transfer-Encoding", "chunked")
			write("te")
		case "teIdentity":
			h.Set("Transfer-Encoding", "identity")
			write("te")
		case "teCL":
			h.Set("Transfer-Encoding", "chunked")
			h.Set("Content-Length", "2")
			write("te")
		case "panic":
			write("partial")
			panic("boom")
		case "panicbig":
			write(strings.Repeat("p", 3000))
			panic("boom")
		case "panicflushed":
			write("flushed")
			w.(http.Flusher).Flush()
			panic("boom")
		case "abort":
			panic(http.ErrAbortHandler)
		case "echo":
			n, err := io.Copy(w, r.Body)
			rec.add("%s copy=%d,%v", name, n, err)
		case "echostr":
			b, _ := io.ReadAll(r.Body)
			write(string(b))
		case "readaftercommit":
			w.(http.Flusher).Flush()
			b, err := io.ReadAll(r.Body)
			note(fmt.Sprintf("read %q", b), err)
		case "readafterclose":
			r.Body.Close()
			b, err := io.ReadAll(r.Body)
			note(fmt.Sprintf("read %q", b), err)
		case "readbig":
			write(strings.Repeat("a", 3000))
			b, err := io.ReadAll(r.Body)
			note(fmt.Sprintf("read %q", b), err)
		case "hijack":
			c, brw, err := http.NewResponseController(w).Hijack()
			note("hijack", err)
			if err != nil {
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			brw.Flush()
			b, _ := io.ReadAll(brw)
			fmt.Fprintf(c, "echo:%q", b)
		case "status":
			h.Set("X-Status", "yes")
			w.WriteHeader(http.StatusTeapot)
			write("tea")
		default: // describe the request
			body, err := io.ReadAll(r.Body)
			h.Set("Content-Type", "text/plain")
			write(describe(r, body, err))
		}
	})
}

type diffCase struct {
	name   string
	raw    string
	handed int64 // connections the lane must hand to net/http
}

const hostLine = "Host: example.com\r\n"

func get(path string) string { return "GET " + path + " HTTP/1.1\r\n" + hostLine + "\r\n" }

func post(path, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s", path, hostLine, len(body), body)
}

func responseCases() []diffCase {
	var cs []diffCase
	for _, n := range []string{"none", "wh200", "wh204", "wh304", "wh404", "wh500", "wh299", "wh600", "wh204body", "wh304typed",
		"html", "json", "binary", "b2049w", "b100kw", "multiw", "typed", "typednil", "b2048", "b2049", "b100k", "b4000", "multi",
		"clright", "clshort", "cllong", "clinvalid", "clzero", "clsniff", "flush", "flushfirst", "flushcl",
		"trailer", "trailerbig", "trailerbad", "trailerprefix", "trailerlate", "trailerlatebig",
		"afterwh", "afterwrite", "info103", "info100", "superfluous", "connclose", "connclosebig", "connkeep", "connodd",
		"ce", "ceempty", "odd", "multivalue", "sorted", "date", "teChunked", "teIdentity", "teCL",
		"panic", "panicbig", "panicflushed", "abort", "status", "hijack"} {
		// Twice on one connection, so keep-alive and closing show.
		cs = append(cs, diffCase{name: n, raw: get("/r/"+n) + get("/r/"+n)})
	}
	for _, n := range []string{"head", "headbig", "headcl", "none", "clright", "trailer", "b2049", "flush", "clinvalid"} {
		cs = append(cs, diffCase{name: "HEAD-" + n, raw: strings.Repeat("HEAD /r/"+n+" HTTP/1.1\r\n"+hostLine+"\r\n", 2)})
	}
	for _, n := range []int{0, 5, 100, 511, 512, 513, 1000, 2048, 2049, 3000} {
		body := strings.Repeat("e", n)
		cs = append(cs,
			diffCase{name: fmt.Sprintf("echo%d", n), raw: post("/r/echo", body) + get("/r/none")},
			diffCase{name: fmt.Sprintf("echostr%d", n), raw: post("/r/echostr", body) + get("/r/none")})
	}
	cs = append(cs,
		diffCase{name: "readaftercommit", raw: post("/r/readaftercommit", "data") + get("/r/none")},
		diffCase{name: "readafterclose", raw: post("/r/readafterclose", "data") + get("/r/none")},
		diffCase{name: "readbig", raw: post("/r/readbig", "data") + get("/r/none")},
		diffCase{name: "reqclose", raw: "GET /r/html HTTP/1.1\r\n" + hostLine + "Connection: close\r\n\r\n" + get("/r/none")},
		diffCase{name: "reqcloseconnkeep", raw: "GET /r/connkeep HTTP/1.1\r\n" + hostLine + "Connection: close\r\n\r\n"},
		diffCase{name: "reqcloseconnclose", raw: "GET /r/connclose HTTP/1.1\r\n" + hostLine + "Connection: Close\r\n\r\n"},
		diffCase{name: "reqclosetokens", raw: "GET /r/html HTTP/1.1\r\n" + hostLine + "Connection: keep-alive, close\r\n\r\n" + get("/r/none")},
		diffCase{name: "reqclosespace", raw: "GET /r/html HTTP/1.1\r\n" + hostLine + "Connection: keep-alive close\r\n\r\n" + get("/r/none")},
		diffCase{name: "reqclose2nd", raw: "GET /r/html HTTP/1.1\r\n" + hostLine + "Connection: foo\r\nConnection: close\r\n\r\n" + get("/r/none")},
	)
	return cs
}

func requestCases() []diffCase {
	e := "/echo"
	return []diffCase{
		{name: "plain", raw: get(e)},
		{name: "query", raw: get(e + "?a=1&b=2&a=3&c=%20x+y")},
		{name: "semicolon", raw: get(e + "?a=1;b=2")},
		{name: "escaped", raw: get(e + "/a%2Fb/%41?x=%2F")},
		{name: "doubleslash", raw: get("//echo/x")},
		{name: "dots", raw: get(e + "/a/../b/./c")},
		{name: "fragmentish", raw: get(e + "?q=a#frag")},
		{name: "badescape", raw: get(e + "/%zz"), handed: 1},
		{name: "repeated", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "X-R: 1\r\nx-r: 2\r\nX-R:3\r\nX-R: \t4 \t\r\n\r\n"},
		{name: "manyheaders", raw: "GET /echo HTTP/1.1\r\nhost: Example.COM:8080\r\nuser-agent: ua\r\naccept: */*\r\nX-Forwarded-For: 1.2.3.4\r\nX-Empty:\r\nx-call-id: abc\r\nWEIRD-case-KEY: v\r\nX_Under: u\r\nX-Utf8: \xc3\xbc\r\n\r\n"},
		{name: "pragma", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "Pragma: no-cache\r\n\r\n"},
		{name: "pragmacc", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "Pragma: no-cache\r\nCache-Control: max-age=1\r\n\r\n"},
		{name: "hostipv6", raw: "GET /echo HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "hostempty", raw: "GET /echo HTTP/1.1\r\nHost:\r\n\r\n", handed: 1},
		{name: "hostodd", raw: "GET /echo HTTP/1.1\r\nHost: a b\r\n\r\n", handed: 1},
		{name: "hostuserinfo", raw: "GET /echo HTTP/1.1\r\nHost: user@host\r\n\r\n", handed: 1},
		{name: "method", raw: "FOO /echo HTTP/1.1\r\n" + hostLine + "\r\n"},
		{name: "lowermethod", raw: "get /echo HTTP/1.1\r\n" + hostLine + "\r\n"},
		{name: "delete", raw: "DELETE /echo HTTP/1.1\r\n" + hostLine + "\r\n"},
		{name: "postbody", raw: post(e, "hello world")},
		{name: "postempty", raw: post(e, "")},
		{name: "postnolength", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "\r\n"},
		{name: "postunread", raw: post("/r/none", "ignored body") + get(e)},
		{name: "cl005", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length: 005\r\n\r\nabcde"},
		{name: "clneg0", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length: -0\r\n\r\n", handed: 1},
		{name: "clplus", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length: +5\r\n\r\nabcde", handed: 1},
		{name: "clspace", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length:   5  \r\n\r\nabcde"},
		{name: "pipelined", raw: post(e, "one") + get(e+"?two") + post(e, "three")},
		{name: "crlfafterpost", raw: post(e, "one") + "\r\n" + get(e+"?two")},
		{name: "crlfafterget", raw: get(e) + "\r\n" + get(e+"?two"), handed: 1},
		{name: "keepalive", raw: strings.Repeat(get(e), 20)},
		{name: "getbody", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "Content-Length: 4\r\n\r\nbody"},
		{name: "lanebig", raw: post(e, strings.Repeat("x", 60<<10))},
	}
}

func handoffCases() []diffCase {
	return []diffCase{
		{name: "chunked", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get("/echo"), handed: 1},
		{name: "chunkedCL", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n", handed: 1},
		{name: "chunkedecho", raw: "POST /r/echo HTTP/1.1\r\n" + hostLine + "Transfer-Encoding: chunked\r\n\r\n258\r\n" + strings.Repeat("c", 600) + "\r\n0\r\n\r\n", handed: 1},
		{name: "expect", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", handed: 1},
		{name: "expectodd", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Expect: something\r\nContent-Length: 5\r\n\r\nhello", handed: 1},
		{name: "upgrade", raw: "GET /r/hijack HTTP/1.1\r\n" + hostLine + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\nping", handed: 1},
		{name: "http10", raw: "GET /echo HTTP/1.0\r\n\r\n", handed: 1},
		{name: "http10keepalive", raw: "GET /r/html HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /r/clright HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", handed: 1},
		{name: "barelf", raw: "GET /echo HTTP/1.1\nHost: example.com\n\n", handed: 1},
		{name: "mixedlf", raw: "GET /echo HTTP/1.1\r\nHost: example.com\n\r\n", handed: 1},
		{name: "nohost", raw: "GET /echo HTTP/1.1\r\n\r\n", handed: 1},
		{name: "twohosts", raw: "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", handed: 1},
		{name: "twoCLsame", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", handed: 1},
		{name: "twoCLdiff", raw: "POST /echo HTTP/1.1\r\n" + hostLine + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", handed: 1},
		{name: "bodyovermax", raw: post("/echo", strings.Repeat("m", DefaultMaxBody+1)), handed: 1},
		{name: "bigheader", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "X-Big: " + strings.Repeat("b", 5000) + "\r\n\r\n", handed: 1},
		{name: "badline", raw: "GET /echo\r\n" + hostLine + "\r\n", handed: 1},
		{name: "badversion", raw: "GET /echo HTTP/1.2\r\n" + hostLine + "\r\n", handed: 1},
		{name: "doublespace", raw: "GET  /echo HTTP/1.1\r\n" + hostLine + "\r\n", handed: 1},
		{name: "absolute", raw: "GET http://other.example/echo?x=1 HTTP/1.1\r\n" + hostLine + "\r\n", handed: 1},
		{name: "options*", raw: "OPTIONS * HTTP/1.1\r\n" + hostLine + "\r\n", handed: 1},
		{name: "connect", raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", handed: 1},
		{name: "h2preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", handed: 1},
		{name: "folded", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "X-Fold: a\r\n b\r\n\r\n", handed: 1},
		{name: "spacebeforecolon", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "X-A : b\r\n\r\n", handed: 1},
		{name: "ctlvalue", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "X-A: a\x01b\r\n\r\n", handed: 1},
		{name: "te", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "TE: trailers\r\n\r\n", handed: 1},
		{name: "trailerreq", raw: "GET /echo HTTP/1.1\r\n" + hostLine + "Trailer: X\r\n\r\n", handed: 1},
		{name: "nonascii", raw: "GET /echo/\xc3\xbc HTTP/1.1\r\n" + hostLine + "\r\n", handed: 1},
		{name: "garbage", raw: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", handed: 1},
		{name: "leadingcrlf", raw: "\r\n" + get("/echo"), handed: 1},
		{name: "lanethenhand", raw: get("/echo?1") + post("/echo", "two") +
			"POST /echo HTTP/1.1\r\n" + hostLine + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
			get("/echo?4") + post("/echo", "five"), handed: 1},
	}
}

func runDiff(t *testing.T, cases []diffCase, lcfg func(*Server)) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var precs, lrecs recorder
			plain := startPlain(t, diffHandler(&precs), nil)
			ln := startLane(t, diffHandler(&lrecs), nil, lcfg)
			want := normalize(exchange(t, plain.addr, tc.raw))
			got := normalize(exchange(t, ln.addr, tc.raw))
			if got != want {
				t.Errorf("raw responses differ\nnet/http:\n%s\nlane:\n%s", quoteLines(want), quoteLines(got))
			}
			// Wait for the handlers to be done with the connection.
			waitFor(t, "handlers", func() bool { return len(lrecs.get()) >= len(precs.get()) })
			if p, l := precs.get(), lrecs.get(); strings.Join(p, "\n") != strings.Join(l, "\n") {
				t.Errorf("handlers saw different things\nnet/http: %q\nlane:     %q", p, l)
			}
			waitFor(t, "lane conns to end", func() bool {
				ln.lane.mu.Lock()
				defer ln.lane.mu.Unlock()
				return len(ln.lane.conns) == 0
			})
			served, handed := ln.lane.Stats()
			if handed != tc.handed {
				t.Errorf("handed %d connections to net/http, want %d (served %d on the lane)", handed, tc.handed, served)
			}
			if tc.handed == 0 && served == 0 && !unanswered(tc.name) {
				t.Errorf("lane served no request")
			}
		})
	}
}

// unanswered names the cases whose handler answers nothing itself.
func unanswered(name string) bool {
	return strings.HasPrefix(name, "panic") || name == "abort" || name == "hijack"
}

func quoteLines(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 200 {
			line = line[:200] + fmt.Sprintf("...(%d bytes)", len(line))
		}
		fmt.Fprintf(&b, "  %q\n", line)
	}
	return b.String()
}

func TestDiffResponses(t *testing.T) { runDiff(t, responseCases(), nil) }
func TestDiffRequests(t *testing.T)  { runDiff(t, requestCases(), nil) }
func TestDiffHandOff(t *testing.T)   { runDiff(t, handoffCases(), nil) }

// TestDiffKeepAlive sends many requests one after another on one
// connection, reading each response before the next request.
func TestDiffKeepAlive(t *testing.T) {
	var precs, lrecs recorder
	plain := startPlain(t, diffHandler(&precs), nil)
	ln := startLane(t, diffHandler(&lrecs), nil, nil)
	paths := []string{"/echo", "/r/html", "/r/b2049", "/r/trailer", "/r/flush", "/r/wh304", "/r/clright", "/r/multi", "/r/info103", "/echo?x=1"}
	run := func(addr string) []string {
		c := dial(t, addr)
		defer c.Close()
		var out []string
		for i := 0; i < 30; i++ {
			p := paths[i%len(paths)]
			raw := post(p, strings.Repeat("k", i*37))
			if i%3 == 0 {
				raw = get(p)
			}
			if _, err := io.WriteString(c, raw); err != nil {
				t.Fatal(err)
			}
			out = append(out, rawResponses(t, c, "GET", 1)...)
		}
		return out
	}
	want, got := run(plain.addr), run(ln.addr)
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("response %d differs\nnet/http:\n%s\nlane:\n%s", i, quoteLines(want[i]), quoteLines(got[i]))
		}
	}
	if served, handed := ln.lane.Stats(); served != 30 || handed != 0 {
		t.Errorf("Stats = %d, %d; want 30 served, 0 handed", served, handed)
	}
}

// TestAcceptFilter: requests Accept refuses go to net/http, and are
// answered as net/http answers them.
func TestAcceptFilter(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	accept := func(method, path string) bool {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, method+" "+path)
		return strings.HasPrefix(path, "/r/")
	}
	cases := []diffCase{
		{name: "accepted", raw: get("/r/html") + get("/r/b2049")},
		{name: "refused", raw: get("/echo?refused"), handed: 1},
		{name: "refusedlater", raw: get("/r/html") + get("/echo?then") + get("/r/html"), handed: 1},
		{name: "escapedpath", raw: get("/r%2Fhtml")}, // Accept sees the path decoded
	}
	runDiff(t, cases, func(s *Server) { s.Accept = accept })
	// Accept sees the decoded path.
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, c := range calls {
		if c == "GET /r/html" {
			found = true
		}
	}
	if !found {
		t.Errorf("Accept never saw GET /r/html: %q", calls)
	}
}
