package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// maxLogLine is the longest NDJSON line a LogStream accepts.
const maxLogLine = 1 << 20

// Logs opens GET /system/logs with the query faas-cli sends: name,
// namespace (when set), follow, instance (when set), since (RFC 3339, when
// set) and tail (when not zero). The client's timeout does not apply: a
// followed stream ends when the gateway closes it or ctx ends.
func (c *Client) Logs(ctx context.Context, req api.LogRequest) (*LogStream, error) {
	cl := call{method: http.MethodGet, path: api.PathLogs, query: logQuery(req), stream: true}
	resp, err := c.send(ctx, cl)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, newStatusError(resp.StatusCode, cl.method, cl.path, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
	return &LogStream{body: resp.Body, sc: sc}, nil
}

func logQuery(r api.LogRequest) url.Values {
	q := url.Values{}
	q.Set("name", r.Name)
	if r.Namespace != "" {
		q.Set("namespace", r.Namespace)
	}
	q.Set("follow", strconv.FormatBool(r.Follow))
	if r.Instance != "" {
		q.Set("instance", r.Instance)
	}
	if r.Since != nil {
		q.Set("since", r.Since.Format(time.RFC3339))
	}
	if r.Tail != 0 {
		q.Set("tail", strconv.Itoa(r.Tail))
	}
	return q
}

// LogStream reads the log lines of one Logs call, scanner style:
//
//	for s.Next() { use(s.Message()) }
//	if err := s.Err(); err != nil { ... }
//	s.Close()
type LogStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
	msg  api.LogMessage
	err  error
}

// Next reads the next line; it returns false at the end of the stream or on
// an error (see Err). Blank lines are skipped.
func (s *LogStream) Next() bool {
	for s.err == nil && s.sc.Scan() {
		line := bytes.TrimSpace(s.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		s.msg = api.LogMessage{}
		if err := json.Unmarshal(line, &s.msg); err != nil {
			s.err = fmt.Errorf("decoding log line %q: %w", line, err)
			return false
		}
		return true
	}
	if s.err == nil {
		s.err = s.sc.Err()
	}
	return false
}

// Message returns the line read by the last successful Next.
func (s *LogStream) Message() api.LogMessage { return s.msg }

// Err returns the error that stopped Next, or nil at a clean end.
func (s *LogStream) Err() error { return s.err }

// Close ends the stream.
func (s *LogStream) Close() error { return s.body.Close() }
