package builder

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func TestImageIsReproducible(t *testing.T) {
	t.Parallel()
	files := []File{
		{Path: "/usr/bin/tool", Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
		{Path: "home/app/handler.txt", Data: []byte("hello")},
	}
	cfg := Config{Entrypoint: []string{"/usr/bin/tool"}, Env: []string{"fprocess=cat"}, WorkingDir: "/home/app"}
	a, err := Image(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Same files in another order: same digest.
	b, err := Image([]File{files[1], files[0]}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("digests differ: %s vs %s", da, db)
	}
	c, _ := Image(files, Config{Entrypoint: []string{"/usr/bin/tool"}, Env: []string{"fprocess=tac"}})
	if dc, _ := c.Digest(); dc == da {
		t.Fatal("a different config gave the same digest")
	}
	cf, err := a.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.WorkingDir != "/home/app" || cf.Config.Env[0] != "fprocess=cat" || cf.OS != "linux" {
		t.Errorf("config = %+v", cf.Config)
	}
	layers, _ := a.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "usr/bin/tool" {
			if h.Mode != 0o755 {
				t.Errorf("tool mode %o", h.Mode)
			}
			data, _ := io.ReadAll(tr)
			if !bytes.Equal(data, files[0].Data) {
				t.Errorf("tool content %q", data)
			}
		}
	}
	want := []string{"home/", "home/app/", "home/app/handler.txt", "usr/", "usr/bin/", "usr/bin/tool"}
	if len(names) != len(want) {
		t.Fatalf("entries %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("entries %v, want %v", names, want)
		}
	}
}
