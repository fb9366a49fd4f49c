package rest

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// notImplemented is faas-provider's text for a missing namespace handler.
const notImplemented = "Feature not implemented in this version of OpenFaaS"

// listNamespaces serves GET /system/namespaces; without provider.Namespaces
// it lists the default namespace alone.
func (h *handler) listNamespaces(w http.ResponseWriter, r *http.Request) {
	list := []string{h.cfg.DefaultNamespace}
	if np, ok := h.p.(provider.Namespaces); ok {
		got, err := np.NamespaceList(r.Context())
		switch {
		case errors.Is(err, provider.ErrNotSupported):
		case err != nil:
			h.fail(w, r, err)
			return
		default:
			list = append([]string{}, got...)
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// namespaces returns p's Namespaces, or answers 501 and returns false.
func (h *handler) namespaces(w http.ResponseWriter) (provider.Namespaces, bool) {
	np, ok := h.p.(provider.Namespaces)
	if !ok {
		writeText(w, http.StatusNotImplemented, notImplemented)
	}
	return np, ok
}

// getNamespace serves GET /system/namespace/{name}: 200 or 404.
func (h *handler) getNamespace(w http.ResponseWriter, r *http.Request) {
	np, ok := h.namespaces(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	err := validName("namespace", name)
	var ns api.FunctionNamespace
	if err == nil {
		ns, err = np.Namespace(r.Context(), name)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ns)
}

// namespaceBody decodes a FunctionNamespace body whose name must match the
// path's when both are given, and checks the namespace rules.
func (h *handler) namespaceBody(w http.ResponseWriter, r *http.Request, mustMatch bool) (api.FunctionNamespace, error) {
	var ns api.FunctionNamespace
	if err := h.decode(w, r, &ns); err != nil {
		return ns, err
	}
	path := r.PathValue("name")
	switch {
	case ns.Name == "":
		ns.Name = path
	case mustMatch && ns.Name != path, path != "" && ns.Name != path:
		return ns, fmt.Errorf("%w: namespace %q in the body does not match %q in the path", provider.ErrInvalid, ns.Name, path)
	}
	return ns, checkNamespace(ns)
}

// checkNamespace applies the rules every namespace mutation follows.
func checkNamespace(ns api.FunctionNamespace) error {
	if ns.Name == "" {
		return fmt.Errorf("%w: namespace name is required", provider.ErrInvalid)
	}
	if ns.Name == api.ReservedNamespaceKube {
		return fmt.Errorf("%w: namespace %q is reserved", provider.ErrInvalid, ns.Name)
	}
	if err := validName("namespace", ns.Name); err != nil {
		return err
	}
	if ns.Labels[api.NamespaceMarkerLabel] != api.NamespaceMarkerValue {
		return fmt.Errorf("%w: namespace %q needs the label %s=%q", provider.ErrInvalid, ns.Name, api.NamespaceMarkerLabel, api.NamespaceMarkerValue)
	}
	return nil
}

// createNamespace serves POST /system/namespace/: 201, 409 when it exists.
func (h *handler) createNamespace(w http.ResponseWriter, r *http.Request) {
	np, ok := h.namespaces(w)
	if !ok {
		return
	}
	ns, err := h.namespaceBody(w, r, false)
	if err == nil {
		err = np.CreateNamespace(r.Context(), ns)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// updateNamespace serves PUT /system/namespace/{name}: 202.
func (h *handler) updateNamespace(w http.ResponseWriter, r *http.Request) {
	np, ok := h.namespaces(w)
	if !ok {
		return
	}
	ns, err := h.namespaceBody(w, r, true)
	if err == nil {
		err = np.UpdateNamespace(r.Context(), ns)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// deleteNamespace serves DELETE /system/namespace/{name}: 202. The body is
// optional; when it names a namespace that must be the path's.
func (h *handler) deleteNamespace(w http.ResponseWriter, r *http.Request) {
	np, ok := h.namespaces(w)
	if !ok {
		return
	}
	name, err := h.deleteNamespaceName(w, r)
	if err == nil {
		err = np.DeleteNamespace(r.Context(), name)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) deleteNamespaceName(w http.ResponseWriter, r *http.Request) (string, error) {
	name := r.PathValue("name")
	body, err := h.readBody(w, r)
	if err != nil {
		return "", err
	}
	if len(body) > 0 {
		var ns api.FunctionNamespace
		if err := decodeJSON(body, &ns); err != nil {
			return "", err
		}
		if ns.Name != "" && name != "" && ns.Name != name {
			return "", fmt.Errorf("%w: namespace %q in the body does not match %q in the path", provider.ErrInvalid, ns.Name, name)
		}
		name = firstNonEmpty(name, ns.Name)
	}
	if name == api.ReservedNamespaceKube {
		return "", fmt.Errorf("%w: namespace %q is reserved", provider.ErrInvalid, name)
	}
	return name, validName("namespace", name)
}
