package rest

import (
	"fmt"
	"net/http"

	"github.com/gofaas/gofaas/internal/provider"
	"github.com/gofaas/gofaas/pkg/api"
)

// listFunctions serves GET /system/functions?namespace=.
func (h *handler) listFunctions(w http.ResponseWriter, r *http.Request) {
	ns, err := h.namespace(r.URL.Query().Get("namespace"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list, err := h.p.Functions(r.Context(), ns)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if list == nil {
		list = []api.FunctionStatus{}
	}
	if h.cfg.Status != nil {
		for i := range list {
			h.cfg.Status(r.Context(), &list[i])
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// getFunction serves GET /system/function/{name}?namespace=&usage=.
func (h *handler) getFunction(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns, err := h.namespace(q.Get("namespace"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	if err := validName("function", name); err != nil {
		h.fail(w, r, err)
		return
	}
	usage := q.Get("usage") == "1" || q.Get("usage") == "true"
	st, err := h.p.Function(r.Context(), name, ns, usage)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cfg.Status != nil {
		h.cfg.Status(r.Context(), &st)
	}
	writeJSON(w, http.StatusOK, st)
}

func validName(what, name string) error {
	if err := api.ValidateName(what, name); err != nil {
		return fmt.Errorf("%w: %w", provider.ErrInvalid, err)
	}
	return nil
}

// deployment decodes and checks the body of POST and PUT /system/functions.
func (h *handler) deployment(w http.ResponseWriter, r *http.Request) (api.FunctionDeployment, error) {
	var fn api.FunctionDeployment
	if err := h.decode(w, r, &fn); err != nil {
		return fn, err
	}
	if err := checkDeployment(&fn, h.namespace); err != nil {
		return fn, err
	}
	return fn, nil
}

// checkDeployment requires service and image and places fn in a namespace.
func checkDeployment(fn *api.FunctionDeployment, namespace func(string) (string, error)) error {
	switch {
	case fn.Service == "":
		return fmt.Errorf("%w: service is required (the function's name)", provider.ErrInvalid)
	case fn.Image == "":
		return fmt.Errorf("%w: image is required for function %q", provider.ErrInvalid, fn.Service)
	}
	if err := validName("function", fn.Service); err != nil {
		return err
	}
	ns, err := namespace(fn.Namespace)
	if err != nil {
		return err
	}
	fn.Namespace = ns
	return nil
}

// deploy serves POST /system/functions: 202, 409 when it exists.
func (h *handler) deploy(w http.ResponseWriter, r *http.Request) {
	fn, err := h.deployment(w, r)
	if err == nil {
		err = h.p.Deploy(r.Context(), fn)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.started(fn.Service, fn.Namespace)
	w.WriteHeader(http.StatusAccepted)
}

// update serves PUT /system/functions: 202, 404 when absent.
func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	fn, err := h.deployment(w, r)
	if err == nil {
		err = h.p.Update(r.Context(), fn)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.started(fn.Service, fn.Namespace)
	w.WriteHeader(http.StatusAccepted)
}

// remove serves DELETE /system/functions {"functionName","namespace"};
// the namespace may also be in the query (a non-empty body value wins).
func (h *handler) remove(w http.ResponseWriter, r *http.Request) {
	var req api.DeleteFunctionRequest
	if err := h.decode(w, r, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.FunctionName == "" {
		h.fail(w, r, fmt.Errorf("%w: functionName is required", provider.ErrInvalid))
		return
	}
	ns, err := h.namespace(firstNonEmpty(req.Namespace, r.URL.Query().Get("namespace")))
	if err == nil {
		err = validName("function", req.FunctionName)
	}
	if err == nil {
		err = h.p.Remove(r.Context(), req.FunctionName, ns)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// scale serves POST /system/scale-function/{name}: 202.
func (h *handler) scale(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.ScaleServiceRequest
	err := h.decode(w, r, &req)
	if err == nil {
		err = checkScale(name, req)
	}
	var ns string
	if err == nil {
		ns, err = h.namespace(firstNonEmpty(req.Namespace, r.URL.Query().Get("namespace")))
	}
	if err == nil {
		err = h.p.Scale(r.Context(), name, ns, req.Replicas)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Replicas > 0 {
		h.started(name, ns)
	}
	w.WriteHeader(http.StatusAccepted)
}

// started tells HandlerConfig.Started that replicas may be starting.
func (h *handler) started(name, namespace string) {
	if h.cfg.Started != nil {
		h.cfg.Started(name, namespace)
	}
}

func checkScale(name string, req api.ScaleServiceRequest) error {
	if err := validName("function", name); err != nil {
		return err
	}
	if req.ServiceName != "" && req.ServiceName != name {
		return fmt.Errorf("%w: serviceName %q in the body does not match %q in the path", provider.ErrInvalid, req.ServiceName, name)
	}
	return nil
}

// info serves GET /system/info.
func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	info := h.cfg.Info
	if in, ok := h.p.(provider.Informer); ok {
		info = in.Info(r.Context())
		if info.Version == nil {
			info.Version = &api.VersionInfo{}
		}
	}
	writeJSON(w, http.StatusOK, info)
}
