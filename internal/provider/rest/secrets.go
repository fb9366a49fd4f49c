package rest

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// secrets returns p's Secrets or an ErrNotSupported error.
func (h *handler) secrets() (provider.Secrets, error) {
	s, ok := h.p.(provider.Secrets)
	if !ok {
		return nil, fmt.Errorf("secrets: %w", provider.ErrNotSupported)
	}
	return s, nil
}

// listSecrets serves GET /system/secrets?namespace=: names only.
func (h *handler) listSecrets(w http.ResponseWriter, r *http.Request) {
	s, err := h.secrets()
	var ns string
	if err == nil {
		ns, err = h.namespace(r.URL.Query().Get("namespace"))
	}
	var list []api.Secret
	if err == nil {
		list, err = s.SecretList(r.Context(), ns)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]api.Secret, 0, len(list))
	for _, sec := range list { // never values, whatever the back-end returned
		out = append(out, api.Secret{Name: sec.Name, Namespace: sec.Namespace})
	}
	writeJSON(w, http.StatusOK, out)
}

// secretBody decodes and checks a Secret body; the namespace may also come
// from the query (a non-empty body value wins).
func (h *handler) secretBody(w http.ResponseWriter, r *http.Request) (api.Secret, error) {
	var sec api.Secret
	if err := h.decode(w, r, &sec); err != nil {
		return sec, err
	}
	if sec.Name == "" {
		return sec, fmt.Errorf("%w: name is required", provider.ErrInvalid)
	}
	if err := validName("secret", sec.Name); err != nil {
		return sec, err
	}
	ns, err := h.namespace(firstNonEmpty(sec.Namespace, r.URL.Query().Get("namespace")))
	sec.Namespace = ns
	return sec, err
}

// createSecret serves POST /system/secrets: 201, 409 when it exists.
func (h *handler) createSecret(w http.ResponseWriter, r *http.Request) {
	h.secretWrite(w, r, http.StatusCreated, provider.Secrets.CreateSecret)
}

// updateSecret serves PUT /system/secrets: 200, 404 when absent.
func (h *handler) updateSecret(w http.ResponseWriter, r *http.Request) {
	h.secretWrite(w, r, http.StatusOK, provider.Secrets.UpdateSecret)
}

// deleteSecret serves DELETE /system/secrets {"name","namespace"}: 200.
func (h *handler) deleteSecret(w http.ResponseWriter, r *http.Request) {
	h.secretWrite(w, r, http.StatusOK, func(s provider.Secrets, ctx context.Context, sec api.Secret) error {
		return s.DeleteSecret(ctx, sec.Name, sec.Namespace)
	})
}

func (h *handler) secretWrite(w http.ResponseWriter, r *http.Request, code int, op func(provider.Secrets, context.Context, api.Secret) error) {
	s, err := h.secrets()
	var sec api.Secret
	if err == nil {
		sec, err = h.secretBody(w, r)
	}
	if err == nil {
		err = op(s, r.Context(), sec)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(code)
}
