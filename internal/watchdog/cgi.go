package watchdog

import (
	"net/http"
	"strconv"
	"strings"
)

// cgiFlavour picks which request details become Http_* variables: the
// classic watchdog adds Http_ContentLength, Http_Content_Length and
// Http_Host; of-watchdog's forking modes do not.
type cgiFlavour int

const (
	cgiClassic cgiFlavour = iota
	cgiOF
)

// HeaderEnvName converts a header name into the CGI-style variable name the
// classic watchdog uses: "Http_" + the header with '-' turned into '_'
// ("X-Call-Id" → "Http_X_Call_Id"). Bytes that cannot appear in an
// environment variable name ('=' and NUL) become '_' as well.
func HeaderEnvName(header string) string {
	var b strings.Builder
	b.Grow(len("Http_") + len(header))
	b.WriteString("Http_")
	for i := 0; i < len(header); i++ {
		switch c := header[i]; c {
		case '-', '=', 0:
			b.WriteByte('_')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// envValue drops NUL bytes, which cannot be passed in an environment.
func envValue(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// CGIEnv returns base followed by the Http_* variables for r, as the
// classic watchdog builds them: one per header (first value), then
// Http_Method, Http_ContentLength and Http_Content_Length (-1 when chunked),
// Http_Transfer_Encoding (if any), Http_Query (if non-empty), Http_Path and
// Http_Host.
func CGIEnv(base []string, r *http.Request) []string {
	return cgiEnv(base, r, cgiClassic)
}

func cgiEnv(base []string, r *http.Request, flavour cgiFlavour) []string {
	env := make([]string, 0, len(base)+len(r.Header)+8)
	env = append(env, base...)
	for k, v := range r.Header {
		if len(v) == 0 {
			continue
		}
		env = append(env, HeaderEnvName(k)+"="+envValue(v[0]))
	}
	env = append(env, "Http_Method="+r.Method)
	if flavour == cgiClassic {
		n := strconv.FormatInt(r.ContentLength, 10)
		env = append(env, "Http_ContentLength="+n, "Http_Content_Length="+n)
	}
	if len(r.TransferEncoding) > 0 {
		env = append(env, "Http_Transfer_Encoding="+envValue(r.TransferEncoding[0]))
	}
	if r.URL.RawQuery != "" {
		env = append(env, "Http_Query="+envValue(r.URL.RawQuery))
	}
	if r.URL.Path != "" {
		env = append(env, "Http_Path="+envValue(r.URL.Path))
	}
	if flavour == cgiClassic {
		env = append(env, "Http_Host="+envValue(r.Host))
	}
	return env
}
