package templates

import (
	"io/fs"
	"testing"
)

func FuzzParseTemplateYAML(f *testing.F) {
	for _, lang := range Embedded() {
		tpl, err := Find("", lang)
		if err != nil {
			f.Fatal(err)
		}
		data, err := fs.ReadFile(tpl.FS, "template.yml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("gofaas:\n  build: [[]]\n"))
	f.Add([]byte("a: &a [*a]\ngofaas: *a\n"))
	f.Add([]byte("handler_folder: ../x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := ParseTemplateYAML(data)
		if err != nil {
			return
		}
		if !fs.ValidPath(tpl.HandlerFolder) || tpl.HandlerFolder == "." {
			t.Errorf("accepted handler_folder %q", tpl.HandlerFolder)
		}
		if tpl.Local != nil {
			if err := tpl.Local.validate(); err != nil {
				t.Errorf("accepted an invalid gofaas block: %v", err)
			}
		}
	})
}
