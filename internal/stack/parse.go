package stack

import (
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/drone/envsubst"
	yaml "go.yaml.in/yaml/v3"

	"github.com/gofaas/gofaas/pkg/api"
)

// The keys each section accepts: every key faas-cli reads.
var (
	topKeys      = []string{"version", "provider", "functions", "configuration"}
	providerKeys = []string{"name", "gateway", "network"}
	functionKeys = []string{"lang", "handler", "image", "fprocess", "skip_build", "environment",
		"environment_file", "secrets", "labels", "annotations", "limits", "requests", "constraints",
		"build_args", "build_options", "build_secrets", "platforms", "readonly_root_filesystem",
		"namespace", "registry_auth"}
	resourceKeys = []string{"memory", "cpu"}
	configKeys   = []string{"templates", "copy"}
	templateKeys = []string{"name", "source"}
)

// Parse reads a stack file from data; path names it in messages and
// anchors environment_file paths. Every problem is reported with its line
// (see Error); a filter that matches nothing wraps ErrNoMatch.
func Parse(path string, data []byte, opt Options) (*File, error) {
	if opt.Filter != "" && opt.Regex != "" {
		return nil, errors.New("--filter and --regex cannot be used together")
	}
	if opt.Envsubst {
		var err error
		if data, err = substitute(path, data, opt.Getenv); err != nil {
			return nil, err
		}
	}
	doc, err := decodeYAML(path, data)
	if err != nil {
		return nil, err
	}
	d := newDecoder(path)
	f := d.file(doc)
	if err := joinProblems(path, d.problems); err != nil {
		return nil, err
	}
	f.Path = path
	if err := f.filter(opt); err != nil {
		return nil, err
	}
	return f, nil
}

// substitute runs envsubst over the raw file, as faas-cli does.
func substitute(path string, data []byte, getenv func(string) string) ([]byte, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	out, err := envsubst.Eval(string(data), getenv)
	if err == nil {
		return []byte(out), nil
	}
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if _, lerr := envsubst.Eval(l, getenv); lerr != nil {
			line = i + 1
			break
		}
	}
	return nil, &Error{Path: path, Line: line,
		Msg: fmt.Sprintf("substituting environment variables: %s (write $$ for a literal $, or turn envsubst off)", err)}
}

// file decodes the whole document.
func (d *decoder) file(doc *yaml.Node) *File {
	f := &File{}
	top := root(doc)
	if isNull(d.resolve(top)) {
		d.add(1, "", "the file is empty; it needs at least provider.name and functions")
		return f
	}
	m, ok := d.fields(top, "", topKeys)
	if !ok {
		return f
	}
	if e, ok := m["version"]; ok {
		f.Version = d.version(e)
	}
	f.Provider = d.provider(m["provider"], top.Line)
	f.Functions = d.functions(m["functions"])
	f.Configuration = d.configuration(m["configuration"])
	return f
}

func (d *decoder) version(e entry) string {
	v := d.text(e.value, "version")
	if v != "" && v != "1.0" {
		d.addAt(e.keyNode, "version", "only \"1.0\" is supported, not %q", v)
	}
	return v
}

// provider decodes the provider section; topLine is where a missing
// section is reported.
func (d *decoder) provider(e entry, topLine int) Provider {
	m, ok := d.fields(e.value, "provider", providerKeys)
	p := Provider{
		Name:    d.text(m["name"].value, "provider.name"),
		Gateway: d.text(m["gateway"].value, "provider.gateway"),
		Network: d.text(m["network"].value, "provider.network"),
	}
	switch {
	case !ok || p.Name == "openfaas" || p.Name == "faas":
	case e.keyNode == nil:
		d.add(topLine, "provider.name", "required: add \"provider: {name: openfaas}\"")
	case p.Name == "":
		d.add(e.line(), "provider.name", "required: the only valid value is \"openfaas\"")
	default:
		d.add(m["name"].line(), "provider.name", "must be \"openfaas\", not %q", p.Name)
	}
	return p
}

func (d *decoder) functions(e entry) map[string]Function {
	entries, _ := d.mapping(e.value, "functions")
	if len(entries) == 0 {
		return nil
	}
	fns := make(map[string]Function, len(entries))
	for _, fe := range entries {
		fns[fe.key] = d.function(fe)
	}
	return fns
}

// function decodes one function, then checks it as a whole.
func (d *decoder) function(e entry) Function {
	field := "functions." + e.key
	if err := api.ValidateName("function", e.key); err != nil {
		d.addAt(e.keyNode, field, "%s", err.Error())
	}
	m, ok := d.fields(e.value, field, functionKeys)
	str := func(k string) string { return d.text(m[k].value, field+"."+k) }
	fn := Function{
		Name: e.key, Lang: str("lang"), Handler: str("handler"), Image: str("image"),
		FProcess: str("fprocess"), Platforms: str("platforms"), Namespace: str("namespace"),
		RegistryAuth: str("registry_auth"),

		SkipBuild:              d.boolean(m["skip_build"].value, field+".skip_build"),
		ReadOnlyRootFilesystem: d.boolean(m["readonly_root_filesystem"].value, field+".readonly_root_filesystem"),

		Environment:     d.dict(m["environment"].value, field+".environment"),
		EnvironmentFile: d.list(m["environment_file"].value, field+".environment_file"),
		Secrets:         d.list(m["secrets"].value, field+".secrets"),
		Labels:          d.dict(m["labels"].value, field+".labels"),
		Annotations:     d.dict(m["annotations"].value, field+".annotations"),
		Constraints:     d.list(m["constraints"].value, field+".constraints"),
		BuildArgs:       d.dict(m["build_args"].value, field+".build_args"),
		BuildOptions:    d.list(m["build_options"].value, field+".build_options"),
		BuildSecrets:    d.dict(m["build_secrets"].value, field+".build_secrets"),
		Limits:          d.resources(m["limits"], field+".limits"),
		Requests:        d.resources(m["requests"], field+".requests"),
	}
	if strings.EqualFold(fn.Lang, "dockerfile") {
		fn.Lang = "dockerfile"
	}
	if !ok {
		return fn
	}
	for _, p := range checkFunction(fn) {
		full := joinField(field, p.field)
		if p.missing && d.reported(full) {
			continue // present but of the wrong type, already said
		}
		line := d.lineOf(full)
		if p.at != "" {
			line = d.lineOf(joinField(field, p.at))
		}
		d.add(line, full, "%s", p.msg)
	}
	return fn
}

// resources decodes limits or requests; nil when absent or empty.
func (d *decoder) resources(e entry, field string) *Resources {
	m, _ := d.fields(e.value, field, resourceKeys)
	r := &Resources{Memory: d.text(m["memory"].value, field+".memory"), CPU: d.text(m["cpu"].value, field+".cpu")}
	if *r == (Resources{}) {
		return nil
	}
	return r
}

func (d *decoder) configuration(e entry) Configuration {
	m, _ := d.fields(e.value, "configuration", configKeys)
	var c Configuration
	c.Copy = d.list(m["copy"].value, "configuration.copy")
	for i, p := range c.Copy {
		if msg := checkCopy(p); msg != "" {
			d.addAt(m["copy"].keyNode, fmt.Sprintf("configuration.copy[%d]", i), "%s", msg)
		}
	}
	at := m["templates"].value
	if t := d.resolve(at); !isNull(t) && t.Kind != yaml.SequenceNode {
		d.addAt(at, "configuration.templates", "must be a list of {name, source}, not %s", kindName(t))
		return c
	} else if t != nil {
		for i, item := range t.Content {
			c.Templates = append(c.Templates, d.template(item, fmt.Sprintf("configuration.templates[%d]", i)))
		}
	}
	return c
}

func (d *decoder) template(n *yaml.Node, field string) TemplateSource {
	m, ok := d.fields(n, field, templateKeys)
	t := TemplateSource{Name: d.text(m["name"].value, field+".name"), Source: d.text(m["source"].value, field+".source")}
	if ok && t.Name == "" {
		d.addAt(n, field+".name", "required: the template's name, such as golang-middleware")
	}
	return t
}

// checkCopy returns why a configuration.copy path is refused, or "".
func checkCopy(p string) string {
	slashed := strings.ReplaceAll(p, `\`, "/")
	clean := path.Clean(slashed)
	switch {
	case p == "":
		return "is empty"
	case path.IsAbs(slashed) || len(p) > 1 && p[1] == ':':
		return fmt.Sprintf("%q is absolute; copy paths are relative to the project folder", p)
	case clean == ".." || strings.HasPrefix(clean, "../"):
		return fmt.Sprintf("%q leaves the project folder; copy paths must stay inside it", p)
	case clean == ".":
		return fmt.Sprintf("%q is the whole project; name a folder inside it", p)
	}
	return ""
}

// filter keeps the functions matching opt.Filter or opt.Regex.
func (f *File) filter(opt Options) error {
	var match func(string) bool
	var what string
	switch {
	case opt.Filter != "":
		if _, err := path.Match(opt.Filter, ""); err != nil {
			return fmt.Errorf("--filter %q: %w", opt.Filter, err)
		}
		match = func(name string) bool { ok, _ := path.Match(opt.Filter, name); return ok }
		what = fmt.Sprintf("--filter %q", opt.Filter)
	case opt.Regex != "":
		re, err := regexp.Compile(opt.Regex)
		if err != nil {
			return fmt.Errorf("--regex %q: %w", opt.Regex, err)
		}
		match = re.MatchString
		what = fmt.Sprintf("--regex %q", opt.Regex)
	default:
		return nil
	}
	all := f.Names()
	for _, name := range all {
		if !match(name) {
			delete(f.Functions, name)
		}
	}
	if len(f.Functions) == 0 && len(all) == 0 {
		return fmt.Errorf("%w %s: %s has no functions", ErrNoMatch, what, f.Path)
	}
	if len(f.Functions) == 0 {
		return fmt.Errorf("%w %s in %s (functions: %s)", ErrNoMatch, what, f.Path, strings.Join(all, ", "))
	}
	return nil
}
