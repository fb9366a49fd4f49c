package templates

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// maxStoreBytes bounds a templates.json.
const maxStoreBytes = 8 << 20

// StoreTemplate is one entry of a template store (templates.json, as
// `faas-cli template store list` reads it).
type StoreTemplate struct {
	// Template is the template's name (its folder under template/).
	Template string `json:"template"`
	// Platform is e.g. "x86_64".
	Platform string `json:"platform"`
	// Language is e.g. "Go" or "Python".
	Language string `json:"language"`
	// Source names who publishes it, e.g. "openfaas".
	Source      string `json:"source"`
	Description string `json:"description"`
	// Repo is the git repository holding it (what Pull takes).
	Repo string `json:"repo"`
	// Official is "true" for templates of the OpenFaaS project.
	Official    string `json:"official"`
	Recommended bool   `json:"recommended"`
}

// LoadStore reads a templates.json from an http(s) URL or a local file.
func LoadStore(ctx context.Context, urlOrFile string) ([]StoreTemplate, error) {
	var data []byte
	var err error
	if strings.HasPrefix(urlOrFile, "http://") || strings.HasPrefix(urlOrFile, "https://") {
		data, err = fetch(ctx, urlOrFile)
	} else {
		data, err = readLimited(urlOrFile)
	}
	if err != nil {
		return nil, err
	}
	var list []StoreTemplate
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("decoding template store %s: %w", urlOrFile, err)
	}
	return list, nil
}

func fetch(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("requesting template store: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching template store: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching template store %s: %s", url, resp.Status)
	}
	return readAll(resp.Body, url)
}

func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading template store: %w", err)
	}
	defer f.Close()
	return readAll(f, file)
}

func readAll(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStoreBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading template store %s: %w", name, err)
	}
	if len(data) > maxStoreBytes {
		return nil, fmt.Errorf("template store %s is larger than %d bytes", name, maxStoreBytes)
	}
	return data, nil
}
