package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
)

// serveTags answers GET /v2/<name>/tags/list, paginated with n and last.
func (r *Registry) serveTags(w http.ResponseWriter, req *http.Request, rt route) error {
	tags, err := r.tags(rt.name)
	if errors.Is(err, errNotExist) {
		return newAPIError(http.StatusNotFound, codeNameUnknown,
			fmt.Sprintf("repository %s is not known to the registry", rt.name), map[string]string{"name": rt.name})
	}
	if err != nil {
		return err
	}
	page, err := paginate(w, req, tags, "/v2/"+rt.name+"/tags/list")
	if err != nil {
		return err
	}
	return writeJSON(w, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, page})
}

// serveCatalog answers GET /v2/_catalog, paginated with n and last.
func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request, _ route) error {
	repos, err := r.repositories()
	if err != nil {
		return err
	}
	page, err := paginate(w, req, repos, "/v2/_catalog")
	if err != nil {
		return err
	}
	return writeJSON(w, struct {
		Repositories []string `json:"repositories"`
	}{page})
}

// paginate returns the sorted items after the query's last, at most n of
// them, and sets a Link header to the next page when more remain.
func paginate(w http.ResponseWriter, req *http.Request, items []string, path string) ([]string, error) {
	q := req.URL.Query()
	if last := q.Get("last"); last != "" {
		items = items[sort.SearchStrings(items, last):]
		if len(items) > 0 && items[0] == last {
			items = items[1:]
		}
	}
	ns := q.Get("n")
	if ns == "" {
		return items, nil
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 0 {
		return nil, newAPIError(http.StatusBadRequest, "PAGINATION_NUMBER_INVALID",
			fmt.Sprintf("n=%q is not a non-negative number", ns), nil)
	}
	if len(items) <= n {
		return items, nil
	}
	page := items[:n]
	if n > 0 {
		next := url.Values{"n": {ns}, "last": {page[n-1]}}
		w.Header().Set("Link", "<"+path+"?"+next.Encode()+`>; rel="next"`)
	}
	return page, nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", itoa(int64(len(body))))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
