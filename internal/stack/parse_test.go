package stack

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/good and testdata/bad")

// caseOptions reads the header comments of a test file:
//
//	# options: envsubst filter=GLOB regex=RE
//	# env: NAME=value NAME2=value
func caseOptions(t *testing.T, data []byte) Options {
	t.Helper()
	opt := Options{}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# options:"):
			for _, o := range strings.Fields(strings.TrimPrefix(line, "# options:")) {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "envsubst":
					opt.Envsubst = true
				case "filter":
					opt.Filter = v
				case "regex":
					opt.Regex = v
				default:
					t.Fatalf("unknown test option %q", o)
				}
			}
		case strings.HasPrefix(line, "# env:"):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "# env:")) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	opt.Getenv = func(k string) string { return env[k] }
	return opt
}

// checkGolden compares got with the .golden file next to file, or rewrites
// it with -update.
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	golden := strings.TrimSuffix(file, ".yml") + ".golden"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", file, golden, got, want)
	}
}

func testFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in testdata/%s: %v", dir, err)
	}
	return files
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	for _, file := range testFiles(t, "good") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Load(t.Context(), file, caseOptions(t, data))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, file, append(got, '\n'))
		})
	}
}

func TestParseBad(t *testing.T) {
	t.Parallel()
	for _, file := range testFiles(t, "bad") {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Load(t.Context(), file, caseOptions(t, data))
			if err == nil {
				t.Fatalf("Load succeeded, want an error; got %+v", f)
			}
			if f != nil {
				t.Errorf("Load returned a file with its error")
			}
			checkGolden(t, file, []byte(err.Error()+"\n"))
		})
	}
}

// TestErrorPosition checks that callers can get the line and field of a
// problem with errors.As, not only read them in the text.
func TestErrorPosition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		yaml      string
		wantLine  int
		wantField string
	}{
		{"unknown key", "provider: {name: openfaas}\nfunctions:\n  a:\n    image: x\n    imgae: y\n", 5, "functions.a.imgae"},
		{"bad memory", "provider: {name: openfaas}\nfunctions:\n  a:\n    image: x\n    limits:\n      cpu: 1\n      memory: 1x\n", 7, "functions.a.limits.memory"},
		{"missing image", "provider: {name: openfaas}\nfunctions:\n\n  a:\n    lang: go\n    handler: ./a\n", 4, "functions.a.image"},
		{"provider", "\n\nprovider:\n  name: swarm\n", 4, "provider.name"},
		{"yaml syntax", "provider:\n  name: openfaas\n   x: y\n", 3, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("stack.yaml", []byte(tt.yaml), Options{})
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if perr.Path != "stack.yaml" || perr.Line != tt.wantLine || perr.Field != tt.wantField {
				t.Errorf("got %s:%d field %q, want stack.yaml:%d field %q (%v)",
					perr.Path, perr.Line, perr.Field, tt.wantLine, tt.wantField, err)
			}
		})
	}
}

func TestFilterErrors(t *testing.T) {
	t.Parallel()
	const doc = "provider: {name: openfaas}\nfunctions:\n  a:\n    image: x\n"
	_, err := Parse("s.yml", []byte(doc), Options{Filter: "b*"})
	if !errors.Is(err, ErrNoMatch) {
		t.Errorf("filter matching nothing: got %v, want ErrNoMatch", err)
	}
	_, err = Parse("s.yml", []byte(doc), Options{Regex: "^b"})
	if !errors.Is(err, ErrNoMatch) {
		t.Errorf("regex matching nothing: got %v, want ErrNoMatch", err)
	}
	f, err := Parse("s.yml", []byte(doc), Options{Regex: "a"})
	if err != nil || len(f.Functions) != 1 {
		t.Errorf("regex matching: got %v, %v", f, err)
	}
}

// TestEnvsubstUsesGetenv checks that the real environment is not read when
// Getenv is given, and that it is read when it is nil.
func TestEnvsubstUsesGetenv(t *testing.T) {
	const doc = "provider: {name: openfaas}\nfunctions:\n  a:\n    image: ${GOFAAS_STACK_TEST_IMAGE}\n"
	t.Setenv("GOFAAS_STACK_TEST_IMAGE", "from-os")
	f, err := Parse("s.yml", []byte(doc), Options{Envsubst: true, Getenv: func(string) string { return "injected" }})
	if err != nil || f.Functions["a"].Image != "injected" {
		t.Errorf("injected Getenv: got %+v, %v", f, err)
	}
	f, err = Parse("s.yml", []byte(doc), Options{Envsubst: true})
	if err != nil || f.Functions["a"].Image != "from-os" {
		t.Errorf("nil Getenv: got %+v, %v", f, err)
	}
}

// TestAliasBomb checks that merge keys expanding exponentially end in an
// error instead of exhausting memory or time.
func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("provider: {name: openfaas}\nx0: &a0 {k: v}\n")
	for i := 1; i <= 30; i++ {
		b.WriteString("x" + strconv.Itoa(i) + ": &a" + strconv.Itoa(i) + " {<<: [*a" + strconv.Itoa(i-1) + ", *a" + strconv.Itoa(i-1) + "]}\n")
	}
	b.WriteString("functions:\n  f:\n    image: x\n    environment: {<<: *a30}\n")
	_, err := Parse("bomb.yml", []byte(b.String()), Options{})
	if err == nil || !strings.Contains(err.Error(), "too many aliases") {
		t.Fatalf("got %v, want an error about aliases", err)
	}
}

func TestNames(t *testing.T) {
	t.Parallel()
	f := &File{Functions: map[string]Function{"b": {}, "c": {}, "a": {}}}
	if got := strings.Join(f.Names(), ","); got != "a,b,c" {
		t.Errorf("Names() = %s, want a,b,c", got)
	}
}
