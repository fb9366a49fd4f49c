package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// fetchTimeout bounds fetching a stack file from a URL.
const fetchTimeout = 30 * time.Second

// maxFetchBytes bounds the size of a stack file fetched from a URL.
const maxFetchBytes = 8 << 20

// Load reads and parses a stack file from a path or an http(s) URL (as
// faas-cli -f accepts). A fetch gives up after 30 seconds or when ctx ends.
func Load(ctx context.Context, pathOrURL string, opt Options) (*File, error) {
	var data []byte
	var err error
	if isURL(pathOrURL) {
		data, err = fetch(ctx, pathOrURL)
	} else {
		data, err = os.ReadFile(pathOrURL)
		if err != nil {
			err = fmt.Errorf("reading stack file: %w", err)
		}
	}
	if err != nil {
		return nil, err
	}
	return Parse(pathOrURL, data, opt)
}

// fetch GETs a stack file; anything but 200 is an error naming the URL and
// the status.
func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching stack file: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching stack file: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching stack file %s: the server answered %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching stack file %s: %w", url, err)
	}
	if len(data) > maxFetchBytes {
		return nil, fmt.Errorf("fetching stack file %s: larger than %d MiB", url, maxFetchBytes>>20)
	}
	return data, nil
}

// DefaultPath returns the stack file faas-cli would pick in dir: stack.yaml,
// else stack.yml. Neither wraps ErrNoStackFile.
func DefaultPath(dir string) (string, error) {
	for _, name := range []string{"stack.yaml", "stack.yml"} {
		p := filepath.Join(dir, name)
		_, err := os.Stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("looking for the stack file: %w", err)
		}
	}
	if dir == "" {
		dir = "."
	}
	return "", fmt.Errorf("%w: neither stack.yaml nor stack.yml in %s (name one with -f)", ErrNoStackFile, dir)
}
