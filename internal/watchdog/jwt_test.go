package watchdog

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testIssuer serves OpenID discovery and a JWKS with one RSA and one
// P-256 key.
type testIssuer struct {
	srv *httptest.Server
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &testIssuer{rsa: rk, ec: ek}
	b64 := base64.RawURLEncoding.EncodeToString
	ecBytes, err := ek.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"jwks_uri": iss.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{
			{"kty": "RSA", "kid": "r1", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes())},
			{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(ecBytes[1:33]), "y": b64(ecBytes[33:])},
		}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *testIssuer) sign(t *testing.T, alg, kid string, claims map[string]any) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, iss.rsa, crypto.SHA256, digest[:])
	case "ES256":
		r, s, e := ecdsa.Sign(rand.Reader, iss.ec, digest[:])
		err = e
		sig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func TestJWTAuth(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t)
	cfg := testCfg(t, ModeClassic, fprocess(t, "echo"))
	cfg.JWTAuth = true
	cfg.JWTIssuer = iss.srv.URL
	cfg.JWTAudience = "figlet.openfaas-fn"
	wd := startWatchdog(t, cfg, false)
	future := time.Now().Add(time.Hour).Unix()
	good := map[string]any{"iss": iss.srv.URL, "aud": []string{"other", "figlet.openfaas-fn"}, "exp": future}
	tests := []struct {
		name  string
		token string
		code  int
	}{
		{"no token", "", 401},
		{"RS256", iss.sign(t, "RS256", "r1", good), 200},
		{"ES256 with string aud", iss.sign(t, "ES256", "e1", map[string]any{"iss": iss.srv.URL, "aud": "figlet.openfaas-fn", "exp": future}), 200},
		{"expired", iss.sign(t, "RS256", "r1", map[string]any{"iss": iss.srv.URL, "aud": "figlet.openfaas-fn", "exp": time.Now().Add(-time.Minute).Unix()}), 401},
		{"no exp", iss.sign(t, "RS256", "r1", map[string]any{"iss": iss.srv.URL, "aud": "figlet.openfaas-fn"}), 401},
		{"not yet valid", iss.sign(t, "RS256", "r1", map[string]any{"iss": iss.srv.URL, "aud": "figlet.openfaas-fn", "exp": future, "nbf": future}), 401},
		{"wrong issuer", iss.sign(t, "RS256", "r1", map[string]any{"iss": "http://evil", "aud": "figlet.openfaas-fn", "exp": future}), 401},
		{"wrong audience", iss.sign(t, "RS256", "r1", map[string]any{"iss": iss.srv.URL, "aud": "other", "exp": future}), 401},
		{"alg confusion", iss.sign(t, "ES256", "r1", good), 401},
		{"unknown kid", iss.sign(t, "RS256", "nope", good), 401},
		{"tampered", iss.sign(t, "RS256", "r1", good) + "x", 401},
		{"garbage", "a.b.c", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hdr := http.Header{}
			if tt.token != "" {
				hdr.Set("Authorization", "Bearer "+tt.token)
			}
			resp, body := do(t, http.MethodPost, wd.url+"/", "hi", hdr)
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.code, body)
			}
			if tt.code == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	if err := expectStatus(wd.url+PathHealth, 200); err != nil {
		t.Errorf("health must not need a token: %v", err)
	}
}
