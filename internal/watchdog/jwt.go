package watchdog

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// jwtRefetchEvery limits how often an unknown key id triggers a JWKS fetch.
const jwtRefetchEvery = 10 * time.Second

// jwtAuth implements jwt_auth: every function request must carry
// "Authorization: Bearer <JWT>" signed (RS256 or ES256) by a key of the
// issuer's JWKS (found through <issuer>/.well-known/openid-configuration),
// with iss equal to the issuer, exp in the future, nbf (if any) passed and,
// when jwt_auth_audience is set, that audience in aud. Failures get 401.
type jwtAuth struct {
	next     http.Handler
	issuer   string
	audience string
	client   *http.Client
	log      *slog.Logger

	mu      sync.Mutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

func newJWTAuth(w *Watchdog, next http.Handler) http.Handler {
	return &jwtAuth{
		next:     next,
		issuer:   strings.TrimSuffix(w.cfg.JWTIssuer, "/"),
		audience: w.cfg.JWTAudience,
		client:   &http.Client{Timeout: 10 * time.Second},
		log:      w.log,
	}
}

func (a *jwtAuth) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		rw.Header().Set("WWW-Authenticate", `Bearer realm="function"`)
		http.Error(rw, "a bearer token is required", http.StatusUnauthorized)
		return
	}
	if err := a.verify(r.Context(), tok, time.Now()); err != nil {
		a.log.Debug("rejected token", "err", err)
		rw.Header().Set("WWW-Authenticate", `Bearer realm="function", error="invalid_token"`)
		http.Error(rw, "invalid token: "+err.Error(), http.StatusUnauthorized)
		return
	}
	a.next.ServeHTTP(rw, r)
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iss string          `json:"iss"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Nbf *float64        `json:"nbf"`
}

// verify checks tok's signature and claims at time now.
func (a *jwtAuth) verify(ctx context.Context, tok string, now time.Time) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errors.New("not a JWS compact token")
	}
	var hdr jwtHeader
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	key, err := a.key(ctx, hdr.Kid)
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := checkSignature(hdr.Alg, key, digest[:], sig); err != nil {
		return err
	}
	var c jwtClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	return a.checkClaims(c, now)
}

func checkSignature(alg string, key crypto.PublicKey, digest, sig []byte) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != "RS256" {
			return fmt.Errorf("alg %q does not match an RSA key", alg)
		}
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) != nil {
			return errors.New("bad signature")
		}
	case *ecdsa.PublicKey:
		if alg != "ES256" || len(sig) != 64 {
			return fmt.Errorf("alg %q does not match a P-256 key", alg)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("bad signature")
		}
	default:
		return errors.New("unsupported key type")
	}
	return nil
}

func (a *jwtAuth) checkClaims(c jwtClaims, now time.Time) error {
	unix := float64(now.Unix())
	switch {
	case c.Iss != a.issuer:
		return fmt.Errorf("issuer %q is not %q", c.Iss, a.issuer)
	case c.Exp == nil:
		return errors.New("no exp claim")
	case unix >= *c.Exp:
		return errors.New("token expired")
	case c.Nbf != nil && unix < *c.Nbf:
		return errors.New("token not valid yet")
	}
	if a.audience == "" {
		return nil
	}
	var one string
	var many []string
	if json.Unmarshal(c.Aud, &one) == nil && one == a.audience {
		return nil
	}
	if json.Unmarshal(c.Aud, &many) == nil && slices.Contains(many, a.audience) {
		return nil
	}
	return fmt.Errorf("audience %q not in token", a.audience)
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parsing: %w", err)
	}
	return nil
}

// key returns the issuer's key kid, fetching the JWKS when it is unknown
// (at most every jwtRefetchEvery).
func (a *jwtAuth) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.keys[kid]; ok {
		return k, nil
	}
	if time.Since(a.fetched) < jwtRefetchEvery {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	a.fetched = time.Now()
	keys, err := a.fetchKeys(ctx)
	if err != nil {
		a.log.Warn("fetching the issuer's keys", "issuer", a.issuer, "err", err)
		return nil, errors.New("issuer keys unavailable")
	}
	a.keys = keys
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("unknown key id %q", kid)
}

func (a *jwtAuth) fetchKeys(ctx context.Context) (map[string]crypto.PublicKey, error) {
	var disc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := a.getJSON(ctx, a.issuer+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := a.getJSON(ctx, disc.JWKSURI, &set); err != nil {
		return nil, err
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if pub, err := k.publicKey(); err == nil {
			keys[k.Kid] = pub
		}
	}
	return keys, nil
}

func (a *jwtAuth) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("getting %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("getting %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}

// jwk is one JSON Web Key (RSA or EC P-256).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "RSA":
		n, err1 := dec(k.N)
		e, err2 := dec(k.E)
		if err := errors.Join(err1, err2); err != nil || len(e) > 4 {
			return nil, errors.New("bad RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "EC":
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		if err := errors.Join(err1, err2); err != nil || k.Crv != "P-256" || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad EC key")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("parsing EC key: %w", err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}
