package templates

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseTemplateYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    *Template
		wantErr string
	}{
		{
			name: "every field",
			yaml: `language: python3-http
fprocess: python3 index.py
welcome_message: |
  hello
handler_folder: src
mount_ssh: true
build_options:
  - name: dev
    packages: [gcc, make]
some_future_key: [1, 2]
gofaas:
  build: [["go", "build", "-o", "handler", "."]]
  include: ["handler", "static/x"]
  requires: " python3 "
  env: {mode: http, upstream_url: "http://127.0.0.1:8082", port: 8082}
`,
			want: &Template{
				Language: "python3-http", FProcess: "python3 index.py", WelcomeMessage: "hello\n",
				HandlerFolder: "src", MountSSH: true,
				BuildOptions: []BuildOption{{Name: "dev", Packages: []string{"gcc", "make"}}},
				Local: &Local{
					Build:    [][]string{{"go", "build", "-o", "handler", "."}},
					Include:  []string{"handler", "static/x"},
					Requires: "python3",
					Env:      map[string]string{"mode": "http", "upstream_url": "http://127.0.0.1:8082", "port": "8082"},
				},
			},
		},
		{
			name: "openfaas template without gofaas block",
			yaml: "language: node18\nfprocess: node index.js\n",
			want: &Template{Language: "node18", FProcess: "node index.js", HandlerFolder: "function"},
		},
		{name: "empty file", yaml: "", want: &Template{HandlerFolder: "function"}},
		{name: "null gofaas block", yaml: "language: x\ngofaas:\n", want: &Template{Language: "x", HandlerFolder: "function"}},
		{name: "empty gofaas block", yaml: "gofaas: {}\n", want: &Template{HandlerFolder: "function", Local: &Local{}}},
		{name: "unknown gofaas key", yaml: "gofaas:\n  buidl: []\n", wantErr: `line 2: unknown key "buidl"`},
		{name: "gofaas not a mapping", yaml: "gofaas: [a]\n", wantErr: "want a mapping"},
		{name: "empty build command", yaml: "gofaas:\n  build: [[]]\n", wantErr: "build command 1 is empty"},
		{name: "include outside", yaml: "gofaas:\n  include: [../x]\n", wantErr: `include path "../x"`},
		{name: "include absolute", yaml: "gofaas:\n  include: [/etc]\n", wantErr: `include path "/etc"`},
		{name: "bad env name", yaml: "gofaas:\n  env: {\"a=b\": c}\n", wantErr: `env name "a=b"`},
		{name: "handler folder outside", yaml: "handler_folder: ../x\n", wantErr: `handler_folder "../x"`},
		{name: "handler folder dot", yaml: "handler_folder: .\n", wantErr: `handler_folder "."`},
		{name: "wrong type", yaml: "build_options: yes\n", wantErr: "reading template.yml"},
		{name: "not yaml", yaml: "language: [\n", wantErr: "reading template.yml"},
		{name: "too large", yaml: strings.Repeat("#", maxTemplateYAML+1), wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTemplateYAML([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
				if got.Local != nil && tt.want.Local != nil {
					t.Errorf("local got %+v, want %+v", *got.Local, *tt.want.Local)
				}
			}
		})
	}
}
