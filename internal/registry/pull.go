package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// find looks ref up in the embedded registry, then in its remote registry.
func (c *Cache) find(ctx context.Context, ref string, r name.Reference) (source, error) {
	cands := localCandidates(ref, r)
	if src, ok, err := c.findLocal(cands, r.Identifier()); ok || err != nil {
		return src, err
	}
	src, err := c.findRemote(ctx, r)
	if err == nil {
		return src, nil
	}
	looked := "the embedded registry has no " + describeCandidates(cands, r.Identifier())
	if c.local == nil {
		looked = "there is no embedded registry"
	}
	host := r.Context().RegistryStr()
	if isNotFound(err) {
		return source{}, fmt.Errorf("%w: %q: %s, and registry %s does not have it or refused access (%s)",
			ErrImageNotFound, ref, looked, host, remoteReason(err))
	}
	if unreachable(err) {
		return source{}, fmt.Errorf("pulling image %q: %s, and registry %s could not be reached: %w", ref, looked, host, err)
	}
	return source{}, fmt.Errorf("pulling image %q: %s, and registry %s: %w", ref, looked, host, err)
}

// findLocal looks the image up in the embedded registry under each
// candidate repository path.
func (c *Cache) findLocal(cands []string, id string) (source, bool, error) {
	if c.local == nil {
		return source{}, false, nil
	}
	for _, repo := range cands {
		img, err := c.local.localLookup(repo, id, c.platform)
		if errors.Is(err, errNotExist) {
			continue
		}
		if err != nil {
			return source{}, false, fmt.Errorf("reading %s:%s from the embedded registry: %w", repo, id, err)
		}
		d, err := img.Digest()
		if err != nil {
			return source{}, false, fmt.Errorf("reading %s:%s from the embedded registry: %w", repo, id, err)
		}
		return source{img: img, digest: d, from: "embedded registry " + repo}, true, nil
	}
	return source{}, false, nil
}

// findRemote resolves the image in its own registry; only the manifests are
// fetched here, layers are read while unpacking.
func (c *Cache) findRemote(ctx context.Context, r name.Reference) (source, error) {
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithPlatform(c.platform),
		remote.WithUserAgent("gofaas"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}
	if c.transport != nil {
		opts = append(opts, remote.WithTransport(c.transport))
	}
	img, err := remote.Image(r, opts...)
	if err != nil {
		return source{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return source{}, err
	}
	return source{img: img, digest: d, from: r.Context().RegistryStr()}, nil
}

// localCandidates lists the repository paths ref may be stored under in the
// embedded registry: the path as written after the registry host, then the
// canonical Docker form ("library/alpine" for "alpine").
func localCandidates(ref string, r name.Reference) []string {
	p := ref
	if i := strings.IndexByte(p, '@'); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndexByte(p, ':'); i > strings.LastIndexByte(p, '/') {
		p = p[:i]
	}
	if host, rest, ok := strings.Cut(p, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		p = rest
	}
	var out []string
	for _, c := range []string{p, r.Context().RepositoryStr()} {
		if validateName(c) == nil && (len(out) == 0 || out[0] != c) {
			out = append(out, c)
		}
	}
	return out
}

func describeCandidates(cands []string, id string) string {
	sep := ":"
	if strings.Contains(id, ":") {
		sep = "@"
	}
	parts := make([]string, len(cands))
	for i, c := range cands {
		parts[i] = c + sep + id
	}
	return strings.Join(parts, " or ")
}

// isLoopback reports whether a registry host is this machine.
func isLoopback(host string) bool {
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	h = strings.Trim(h, "[]")
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// isNotFound reports whether a registry answered that the image does not
// exist or may not be read.
func isNotFound(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	switch te.StatusCode {
	case http.StatusNotFound, http.StatusUnauthorized, http.StatusForbidden:
		return true
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode,
			transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return true
		}
	}
	return false
}

// remoteReason is a short explanation of a registry's refusal.
func remoteReason(err error) string {
	var te *transport.Error
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return string(te.Errors[0].Code) + ": " + te.Errors[0].Message
	}
	if te != nil {
		return http.StatusText(te.StatusCode)
	}
	return err.Error()
}

// unreachable reports whether err means the registry could not be reached
// (network failure or a server-side error), as opposed to an answer.
func unreachable(err error) bool {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode >= 500 || te.StatusCode == http.StatusTooManyRequests
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne)
}
