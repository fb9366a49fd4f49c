package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, and that whatever it accepts
// survives being written by WriteNew and read again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	getenv := func(k string) string { return map[string]string{"A": "a: b", "B": "1.0"}[k] }
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse("fuzz.yml", data, Options{Envsubst: true, Getenv: getenv})
		file, err := Parse("fuzz.yml", data, Options{})
		if err != nil {
			return
		}
		fns := make([]Function, 0, len(file.Functions))
		for _, name := range file.Names() {
			fns = append(fns, file.Functions[name])
		}
		out, err := render("fuzz.yml", file.Provider.Gateway, fns)
		if err != nil {
			t.Fatalf("writing what Parse accepted: %v\ninput:\n%s", err, data)
		}
		again, err := Parse("fuzz.yml", out, Options{})
		if err != nil {
			t.Fatalf("reading back: %v\ninput:\n%s\nwritten:\n%s", err, data, out)
		}
		if !reflect.DeepEqual(again.Functions, file.Functions) || again.Provider.Gateway != file.Provider.Gateway {
			t.Fatalf("round trip changed the file\ninput:\n%s\nwritten:\n%s\nfirst:  %+v\nsecond: %+v",
				data, out, file.Functions, again.Functions)
		}
	})
}
