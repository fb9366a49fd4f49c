package config

import (
	"strings"
	"unicode"
)

// DefaultGateway is the gateway used when nothing names another.
const DefaultGateway = "http://127.0.0.1:8080"

// ResolveGateway picks the gateway URL as faas-cli does: the --gateway flag
// when set to something other than the default, else the stack file's
// provider.gateway when not the default, else $OPENFAAS_URL, else the
// default; then normalised (see NormalizeURL).
func ResolveGateway(flag, stackGateway, envURL string) string {
	var u string
	switch {
	case flag != "" && flag != DefaultGateway:
		u = flag
	case stackGateway != "" && stackGateway != DefaultGateway:
		u = stackGateway
	case envURL != "":
		u = envURL
	default:
		u = DefaultGateway
	}
	return NormalizeURL(u)
}

// NormalizeURL lower-cases a gateway URL, trims trailing slashes and adds
// http:// when no scheme is given, which is the form faas-cli stores.
func NormalizeURL(u string) string {
	u = strings.ToLower(strings.TrimFunc(u, func(r rune) bool { return unicode.IsSpace(r) }))
	u = strings.TrimRightFunc(u, func(r rune) bool { return r == '/' || unicode.IsSpace(r) })
	if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		u = "http://" + u
	}
	return u
}
