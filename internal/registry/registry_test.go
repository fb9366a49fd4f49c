package registry

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return r
}

func pushRandomImage(t *testing.T, host, repoTag string) v1.Image {
	t.Helper()
	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatalf("random.Image: %v", err)
	}
	if err := remote.Write(mustRef(t, host+"/"+repoTag), img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", repoTag, err)
	}
	return img
}

func digestOf(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return h
}

// ociError decodes an OCI error body and returns its first code.
func ociError(t *testing.T, body string) string {
	t.Helper()
	var eb errorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || len(eb.Errors) == 0 {
		t.Fatalf("body %q is not an OCI error: %v", body, err)
	}
	return eb.Errors[0].Code
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestBase(t *testing.T) {
	t.Parallel()
	_, srv, _ := newServer(t, t.TempDir())
	resp, body := do(t, http.MethodGet, srv.URL+"/v2/", nil, nil)
	if resp.StatusCode != http.StatusOK || body != "{}" {
		t.Fatalf("GET /v2/ = %d %q, want 200 {}", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Docker-Distribution-API-Version"); got != "registry/2.0" {
		t.Fatalf("Docker-Distribution-API-Version = %q", got)
	}
}

func TestPushPullImageAndIndex(t *testing.T) {
	t.Parallel()
	_, _, host := newServer(t, t.TempDir())
	img := pushRandomImage(t, host, "team/app:v1")
	got, err := remote.Image(mustRef(t, host+"/team/app:v1"), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pulling image: %v", err)
	}
	if digestOf(t, got) != digestOf(t, img) {
		t.Fatalf("pulled digest %s, pushed %s", digestOf(t, got), digestOf(t, img))
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != 3 {
		t.Fatalf("pulled %d layers (%v), want 3", len(layers), err)
	}
	for _, l := range layers {
		rc, err := l.Compressed() // remote verifies the digest while reading
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bytes.NewBuffer(nil).ReadFrom(rc); err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		rc.Close()
	}

	idx, err := random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(mustRef(t, host+"/team/multi:latest"), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing index: %v", err)
	}
	gotIdx, err := remote.Index(mustRef(t, host+"/team/multi:latest"), remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pulling index: %v", err)
	}
	if digestOf(t, gotIdx) != digestOf(t, idx) {
		t.Fatalf("pulled index digest %s, pushed %s", digestOf(t, gotIdx), digestOf(t, idx))
	}
	desc, err := remote.Head(mustRef(t, host+"/team/multi@"+digestOf(t, idx).String()), remote.WithContext(t.Context()))
	if err != nil || string(desc.MediaType) != mediaOCIIndex {
		t.Fatalf("HEAD index = %+v, %v; want media type %s", desc, err, mediaOCIIndex)
	}
}

func TestChunkedUpload(t *testing.T) {
	t.Parallel()
	_, srv, _ := newServer(t, t.TempDir())
	blob := make([]byte, 3000)
	rand.Read(blob)
	base := srv.URL + "/v2/chunks/blobs/uploads/"

	resp, _ := do(t, http.MethodPost, base, nil, nil)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Docker-Upload-UUID") == "" || resp.Header.Get("Range") != "0-0" {
		t.Fatalf("POST = %d %v", resp.StatusCode, resp.Header)
	}
	loc := srv.URL + resp.Header.Get("Location")
	patch := func(from, to int, cr string) *http.Response {
		resp, _ := do(t, http.MethodPatch, loc, bytes.NewReader(blob[from:to]),
			map[string]string{"Content-Range": cr, "Content-Type": "application/octet-stream"})
		return resp
	}
	if r := patch(0, 1000, "0-999"); r.StatusCode != http.StatusAccepted || r.Header.Get("Range") != "0-999" {
		t.Fatalf("first PATCH = %d Range %q", r.StatusCode, r.Header.Get("Range"))
	}
	if r := patch(1500, 2000, "1500-1999"); r.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("out-of-order PATCH = %d, want 416", r.StatusCode)
	}
	if r := patch(1000, 2000, "1000-1999"); r.StatusCode != http.StatusAccepted {
		t.Fatalf("second PATCH = %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodGet, loc, nil, nil); r.StatusCode != http.StatusNoContent || r.Header.Get("Range") != "0-1999" {
		t.Fatalf("upload status = %d Range %q, want 204 0-1999", r.StatusCode, r.Header.Get("Range"))
	}
	// The last chunk comes with the PUT.
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	r, _ := do(t, http.MethodPut, loc+sep+"digest="+sha(blob), bytes.NewReader(blob[2000:]),
		map[string]string{"Content-Range": "2000-2999"})
	if r.StatusCode != http.StatusCreated || r.Header.Get("Docker-Content-Digest") != sha(blob) {
		t.Fatalf("PUT = %d %v", r.StatusCode, r.Header)
	}
	r, got := do(t, http.MethodGet, srv.URL+r.Header.Get("Location"), nil, nil)
	if r.StatusCode != http.StatusOK || got != string(blob) {
		t.Fatalf("GET blob = %d, %d bytes, equal %v", r.StatusCode, len(got), got == string(blob))
	}
	if r.Header.Get("Content-Type") != "application/octet-stream" || r.Header.Get("Docker-Content-Digest") != sha(blob) {
		t.Fatalf("GET blob headers %v", r.Header)
	}
	r, got = do(t, http.MethodGet, srv.URL+"/v2/chunks/blobs/"+sha(blob), nil, map[string]string{"Range": "bytes=10-19"})
	if r.StatusCode != http.StatusPartialContent || got != string(blob[10:20]) {
		t.Fatalf("ranged GET = %d %d bytes", r.StatusCode, len(got))
	}
	r, got = do(t, http.MethodHead, srv.URL+"/v2/chunks/blobs/"+sha(blob), nil, nil)
	if r.StatusCode != http.StatusOK || r.ContentLength != int64(len(blob)) || got != "" {
		t.Fatalf("HEAD blob = %d length %d", r.StatusCode, r.ContentLength)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	_, srv, _ := newServer(t, t.TempDir())
	blob := []byte("hello, registry")
	wrong := sha([]byte("something else"))
	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
		code   string
	}{
		{"monolithic bad digest", http.MethodPost, "/v2/a/blobs/uploads/?digest=" + wrong, blob, 400, codeDigestInvalid},
		{"monolithic malformed digest", http.MethodPost, "/v2/a/blobs/uploads/?digest=sha256:xyz", blob, 400, codeDigestInvalid},
		{"unknown blob", http.MethodGet, "/v2/a/blobs/" + wrong, nil, 404, codeBlobUnknown},
		{"unknown blob HEAD", http.MethodHead, "/v2/a/blobs/" + wrong, nil, 404, ""},
		{"unknown manifest", http.MethodGet, "/v2/a/manifests/latest", nil, 404, codeManifestUnknown},
		{"unknown manifest digest", http.MethodGet, "/v2/a/manifests/" + wrong, nil, 404, codeManifestUnknown},
		{"unknown upload", http.MethodPatch, "/v2/a/blobs/uploads/4a1f5e2e-1b7e-4a39-8c1e-0d0c2f6f1a11", blob, 404, codeBlobUploadUnknown},
		{"upload id traversal", http.MethodDelete, "/v2/a/blobs/uploads/..", nil, 404, codeBlobUploadUnknown},
		{"invalid name", http.MethodGet, "/v2/Upper/manifests/latest", nil, 400, codeNameInvalid},
		{"invalid name dots", http.MethodGet, "/v2/a/../b/tags/list", nil, 400, codeNameInvalid},
		{"invalid tag", http.MethodPut, "/v2/a/manifests/-bad", []byte("{}"), 400, codeTagInvalid},
		{"unknown repo tags", http.MethodGet, "/v2/nope/tags/list", nil, 404, codeNameUnknown},
		{"method not allowed", http.MethodPost, "/v2/a/manifests/latest", nil, 405, codeUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, bytes.NewReader(tt.body), nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.code != "" {
				if got := ociError(t, body); got != tt.code {
					t.Fatalf("code %s, want %s", got, tt.code)
				}
			}
		})
	}

	// A good monolithic upload followed by a PUT of a session with the
	// wrong digest: the blob store keeps nothing under the wrong digest.
	resp, _ := do(t, http.MethodPost, srv.URL+"/v2/a/blobs/uploads/?digest="+sha(blob), bytes.NewReader(blob), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("monolithic upload = %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodPost, srv.URL+"/v2/a/blobs/uploads/", nil, nil)
	loc := srv.URL + resp.Header.Get("Location")
	resp, body := do(t, http.MethodPut, loc+"?digest="+wrong, bytes.NewReader(blob), nil)
	if resp.StatusCode != http.StatusBadRequest || ociError(t, body) != codeDigestInvalid {
		t.Fatalf("PUT with wrong digest = %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, http.MethodHead, srv.URL+"/v2/a/blobs/"+wrong, nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("blob stored under a wrong digest: HEAD = %d", resp.StatusCode)
	}
}

func TestCancelUpload(t *testing.T) {
	t.Parallel()
	_, srv, _ := newServer(t, t.TempDir())
	resp, _ := do(t, http.MethodPost, srv.URL+"/v2/a/blobs/uploads/", nil, nil)
	loc := srv.URL + resp.Header.Get("Location")
	if r, _ := do(t, http.MethodDelete, loc, nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE upload = %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodGet, loc, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("status of a cancelled upload = %d, want 404", r.StatusCode)
	}
}

func TestCrossRepoMount(t *testing.T) {
	t.Parallel()
	_, srv, _ := newServer(t, t.TempDir())
	blob := []byte("shared layer")
	do(t, http.MethodPost, srv.URL+"/v2/src/repo/blobs/uploads/?digest="+sha(blob), bytes.NewReader(blob), nil)

	resp, _ := do(t, http.MethodPost, srv.URL+"/v2/dst/blobs/uploads/?mount="+sha(blob)+"&from=src/repo", nil, nil)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != sha(blob) {
		t.Fatalf("mount = %d %v", resp.StatusCode, resp.Header)
	}
	if r, got := do(t, http.MethodGet, srv.URL+"/v2/dst/blobs/"+sha(blob), nil, nil); r.StatusCode != 200 || got != string(blob) {
		t.Fatalf("mounted blob GET = %d %q", r.StatusCode, got)
	}
	// Mounting from a repository that lacks the blob starts a normal upload.
	resp, _ = do(t, http.MethodPost, srv.URL+"/v2/other/blobs/uploads/?mount="+sha(blob)+"&from=nope", nil, nil)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") == "" {
		t.Fatalf("mount from a repository without the blob = %d, want 202 upload", resp.StatusCode)
	}
	if r, _ := do(t, http.MethodHead, srv.URL+"/v2/other/blobs/"+sha(blob), nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("blob visible in a repository it was never pushed or mounted to: %d", r.StatusCode)
	}
}

func TestManifestReferencingMissingBlob(t *testing.T) {
	t.Parallel()
	_, srv, host := newServer(t, t.TempDir())
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	do(t, http.MethodPost, srv.URL+"/v2/m/blobs/uploads/?digest="+sha(cfg), bytes.NewReader(cfg), nil)
	missing := sha([]byte("never uploaded"))
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":5}]}`,
		mediaOCIManifest, sha(cfg), len(cfg), missing)
	resp, body := do(t, http.MethodPut, srv.URL+"/v2/m/manifests/v1", strings.NewReader(manifest),
		map[string]string{"Content-Type": mediaOCIManifest})
	if resp.StatusCode != http.StatusBadRequest || ociError(t, body) != codeManifestBlobUnknown || !strings.Contains(body, missing) {
		t.Fatalf("PUT manifest with missing layer = %d %s", resp.StatusCode, body)
	}
	// An index naming a manifest the repository lacks is refused too.
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":10}]}`,
		mediaOCIIndex, mediaOCIManifest, missing)
	resp, body = do(t, http.MethodPut, srv.URL+"/v2/m/manifests/idx", strings.NewReader(index),
		map[string]string{"Content-Type": mediaOCIIndex})
	if resp.StatusCode != http.StatusBadRequest || ociError(t, body) != codeManifestBlobUnknown {
		t.Fatalf("PUT index with missing child = %d %s", resp.StatusCode, body)
	}
	// Without the layer the manifest is fine; pushing by the wrong digest is not.
	good := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`,
		mediaOCIManifest, sha(cfg), len(cfg))
	resp, body = do(t, http.MethodPut, srv.URL+"/v2/m/manifests/"+missing, strings.NewReader(good),
		map[string]string{"Content-Type": mediaOCIManifest})
	if resp.StatusCode != http.StatusBadRequest || ociError(t, body) != codeDigestInvalid {
		t.Fatalf("PUT manifest by wrong digest = %d %s", resp.StatusCode, body)
	}
	resp, _ = do(t, http.MethodPut, srv.URL+"/v2/m/manifests/v2", strings.NewReader(good),
		map[string]string{"Content-Type": mediaOCIManifest})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != sha([]byte(good)) {
		t.Fatalf("PUT good manifest = %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = do(t, http.MethodHead, "http://"+host+"/v2/m/manifests/v2", nil, nil)
	if resp.Header.Get("Content-Type") != mediaOCIManifest || resp.ContentLength != int64(len(good)) ||
		resp.Header.Get("Docker-Content-Digest") != sha([]byte(good)) {
		t.Fatalf("HEAD manifest headers %v length %d", resp.Header, resp.ContentLength)
	}
}

func TestTagsAndCatalog(t *testing.T) {
	t.Parallel()
	_, srv, host := newServer(t, t.TempDir())
	img := pushRandomImage(t, host, "lib/app:a")
	for _, tag := range []string{"b", "c", "d", "e"} {
		if err := remote.Tag(mustRef(t, host+"/lib/app:"+tag).(name.Tag), img, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("tagging %s: %v", tag, err)
		}
	}
	pushRandomImage(t, host, "zeta:latest")
	pushRandomImage(t, host, "alpha/beta/gamma:1")

	type tagList struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	var pages [][]string
	next := "/v2/lib/app/tags/list?n=2"
	for next != "" {
		resp, body := do(t, http.MethodGet, srv.URL+next, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", next, resp.StatusCode, body)
		}
		var tl tagList
		if err := json.Unmarshal([]byte(body), &tl); err != nil || tl.Name != "lib/app" {
			t.Fatalf("tags body %q: %v", body, err)
		}
		pages = append(pages, tl.Tags)
		next = ""
		if link := resp.Header.Get("Link"); link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
		}
	}
	if got := fmt.Sprint(pages); got != "[[a b] [c d] [e]]" {
		t.Fatalf("tag pages %s, want [[a b] [c d] [e]]", got)
	}

	repos, err := remote.Catalog(t.Context(), mustRef(t, host+"/x").Context().Registry)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if got := strings.Join(repos, ","); got != "alpha/beta/gamma,lib/app,zeta" {
		t.Fatalf("catalog = %s", got)
	}
	resp, body := do(t, http.MethodGet, srv.URL+"/v2/_catalog?n=1&last=alpha/beta/gamma", nil, nil)
	if !strings.Contains(body, `["lib/app"]`) || !strings.Contains(resp.Header.Get("Link"), "last=lib%2Fapp") {
		t.Fatalf("catalog page = %s Link %q", body, resp.Header.Get("Link"))
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	_, srv, host := newServer(t, t.TempDir())
	img := pushRandomImage(t, host, "del:one")
	d := digestOf(t, img).String()
	if r, _ := do(t, http.MethodDelete, srv.URL+"/v2/del/manifests/one", nil, nil); r.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE tag = %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodGet, srv.URL+"/v2/del/manifests/one", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted tag still resolves: %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodGet, srv.URL+"/v2/del/manifests/"+d, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("manifest gone with its tag: %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodDelete, srv.URL+"/v2/del/manifests/"+d, nil, nil); r.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest = %d", r.StatusCode)
	}
	if r, body := do(t, http.MethodGet, srv.URL+"/v2/del/manifests/"+d, nil, nil); r.StatusCode != http.StatusNotFound || ociError(t, body) != codeManifestUnknown {
		t.Fatalf("deleted manifest GET = %d", r.StatusCode)
	}
	cfg, _ := img.ConfigName()
	if r, _ := do(t, http.MethodDelete, srv.URL+"/v2/del/blobs/"+cfg.String(), nil, nil); r.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE blob = %d", r.StatusCode)
	}
	if r, _ := do(t, http.MethodHead, srv.URL+"/v2/del/blobs/"+cfg.String(), nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted blob HEAD = %d", r.StatusCode)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reg1, srv1, host1 := newServer(t, dir)
	img := pushRandomImage(t, host1, "keep/me:v1")
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(mustRef(t, host1+"/keep/idx:v1"), idx, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	srv1.Close()
	_ = reg1

	_, srv2, host2 := newServer(t, dir)
	got, err := remote.Image(mustRef(t, host2+"/keep/me:v1"), remote.WithContext(t.Context()))
	if err != nil || digestOf(t, got) != digestOf(t, img) {
		t.Fatalf("after restart: %v", err)
	}
	gotIdx, err := remote.Index(mustRef(t, host2+"/keep/idx:v1"), remote.WithContext(t.Context()))
	if err != nil || digestOf(t, gotIdx) != digestOf(t, idx) {
		t.Fatalf("index after restart: %v", err)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		d := digestOf(t, l)
		if r, _ := do(t, http.MethodHead, srv2.URL+"/v2/keep/me/blobs/"+d.String(), nil, nil); r.StatusCode != http.StatusOK {
			t.Fatalf("layer %s after restart: %d", d, r.StatusCode)
		}
	}
	_, body := do(t, http.MethodGet, srv2.URL+"/v2/_catalog", nil, nil)
	if !strings.Contains(body, "keep/me") || !strings.Contains(body, "keep/idx") {
		t.Fatalf("catalog after restart: %s", body)
	}
}
