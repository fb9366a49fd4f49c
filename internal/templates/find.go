package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// SourceEmbedded is the Source of the templates built into gofaas.
const SourceEmbedded = "embedded"

// ErrUnknownLanguage is returned (wrapped) by Find when no template of
// that name exists.
var ErrUnknownLanguage = errors.New("unknown template language")

// files holds the built-in templates, one folder per language.
//
//go:embed all:files
var files embed.FS

// Embedded returns the names of the built-in templates, sorted.
func Embedded() []string {
	entries, err := files.ReadDir("files")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

// Find returns the template for lang: the folder template/<lang> under
// projectDir when it exists (as faas-cli looks it up), else the built-in
// one. The lang "Dockerfile" means "dockerfile", as in faas-cli. An unknown
// lang gives an error wrapping ErrUnknownLanguage that lists the available
// ones.
func Find(projectDir, lang string) (*Template, error) {
	if strings.EqualFold(lang, "dockerfile") {
		lang = "dockerfile"
	}
	if !validName(lang) {
		return nil, unknown(projectDir, lang)
	}
	dir := filepath.Join(projectDir, "template", lang)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return load(os.DirFS(dir), lang, dir)
	}
	if slices.Contains(Embedded(), lang) {
		sub, err := fs.Sub(files, "files/"+lang)
		if err != nil {
			return nil, fmt.Errorf("opening built-in template %s: %w", lang, err)
		}
		return load(unembedFS{sub}, lang, SourceEmbedded)
	}
	return nil, unknown(projectDir, lang)
}

// validName reports whether lang can name a folder of ./template.
func validName(lang string) bool {
	return lang != "" && lang != "." && lang != ".." && !strings.ContainsAny(lang, `/\`) && !strings.ContainsRune(lang, 0)
}

// load reads template.yml from fsys and completes the template.
func load(fsys fs.FS, lang, source string) (*Template, error) {
	data, err := fs.ReadFile(fsys, "template.yml")
	if err != nil {
		return nil, fmt.Errorf("reading template %s from %s: %w", lang, source, err)
	}
	t, err := ParseTemplateYAML(data)
	if err != nil {
		return nil, fmt.Errorf("template %s from %s: %w", lang, source, err)
	}
	if t.Language == "" {
		t.Language = lang
	}
	t.FS, t.Source = fsys, source
	return t, nil
}

func unknown(projectDir, lang string) error {
	msg := fmt.Sprintf("unknown template language %q; built in: %s", lang, strings.Join(Embedded(), ", "))
	if local := projectTemplates(projectDir); len(local) > 0 {
		msg += fmt.Sprintf("; in %s: %s", filepath.Join(projectDir, "template"), strings.Join(local, ", "))
	}
	return &unknownError{msg: msg + `; pull more with "gofaas template pull"`}
}

// unknownError is ErrUnknownLanguage with the list of what exists.
type unknownError struct{ msg string }

func (e *unknownError) Error() string { return e.msg }

func (e *unknownError) Unwrap() error { return ErrUnknownLanguage }

// projectTemplates lists the template folders under projectDir/template.
func projectTemplates(projectDir string) []string {
	entries, err := os.ReadDir(filepath.Join(projectDir, "template"))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}
