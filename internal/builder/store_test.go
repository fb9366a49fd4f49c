package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func fileImage(t *testing.T, content string) v1.Image {
	t.Helper()
	img, err := Image([]File{{Path: "home/app/f", Data: []byte(content)}}, Config{WorkingDir: "/home/app"})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func countBlobs(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(dir, "blobs"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSaveLoad(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), ".images")
	a, b := fileImage(t, "a"), fileImage(t, "b")
	if err := Save(dir, "hello", a); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if err := Save(dir, "127.0.0.1:8080/other:1", b); err != nil {
		t.Fatalf("Save: %v", err)
	}
	tests := []struct {
		ref     string
		want    v1.Image
		content string
	}{
		{"hello", a, "a"},
		{"hello:latest", a, "a"},
		{"docker.io/library/hello:latest", a, "a"},
		{"127.0.0.1:8080/other:1", b, "b"},
	}
	for _, tt := range tests {
		got, err := Load(dir, tt.ref)
		if err != nil {
			t.Fatalf("Load(%s): %v", tt.ref, err)
		}
		if digest(t, got) != digest(t, tt.want) {
			t.Errorf("Load(%s) gave another image", tt.ref)
		}
		if files := layerFiles(t, layersOf(t, got)[0]); files["home/app/f"].data != tt.content {
			t.Errorf("Load(%s): content lost", tt.ref)
		}
	}
	// Replacing hello drops a's blobs (manifest, config, layer) but keeps b's.
	before := countBlobs(t, dir)
	if err := Save(dir, "hello", fileImage(t, "c")); err != nil {
		t.Fatalf("Save: %v", err)
	}
	if after := countBlobs(t, dir); after != before {
		t.Errorf("%d blobs after replacing an image, want %d", after, before)
	}
	got, err := Load(dir, "hello")
	if err != nil || digest(t, got) != digest(t, fileImage(t, "c")) {
		t.Errorf("Load after replace: %v", err)
	}
	if got, err := Load(dir, "127.0.0.1:8080/other:1"); err != nil || len(layerFiles(t, layersOf(t, got)[0])) == 0 {
		t.Errorf("the other image was damaged: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, store := range []string{filepath.Join(dir, "none"), dir} {
		if store == dir {
			if err := Save(dir, "present", fileImage(t, "x")); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Load(store, "absent:1")
		if !errors.Is(err, ErrImageNotFound) || !strings.Contains(err.Error(), "gofaas build") {
			t.Errorf("Load from %s: %v, want ErrImageNotFound telling to run gofaas build", store, err)
		}
	}
	if _, err := Load(dir, "Bad Ref"); err == nil || errors.Is(err, ErrImageNotFound) {
		t.Errorf("Load of a bad reference: %v", err)
	}
}

func TestSaveConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var wg sync.WaitGroup
	imgs := make([]v1.Image, 6)
	for i := range imgs {
		imgs[i] = fileImage(t, fmt.Sprint(i))
	}
	errs := make([]error, len(imgs))
	for i := range errs {
		wg.Go(func() { errs[i] = Save(dir, fmt.Sprintf("fn%d", i), imgs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
		got, err := Load(dir, fmt.Sprintf("fn%d", i))
		if err != nil {
			t.Fatalf("Load %d after concurrent saves: %v", i, err)
		}
		if digest(t, got) != digest(t, imgs[i]) {
			t.Errorf("fn%d holds another image", i)
		}
	}
}
