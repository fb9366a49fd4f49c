package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxNodes bounds how many YAML nodes one parse visits, counting every
// expansion of an alias, so that alias bombs fail instead of running away.
const maxNodes = 1 << 18

// decoder walks a yaml.Node tree and collects every problem it meets with
// its line, instead of stopping at the first.
type decoder struct {
	path     string
	problems []*Error
	budget   int
	merging  map[*yaml.Node]bool // mappings being merged, to stop "<<" cycles
	lines    map[string]int      // line of each key and list item by field path
}

func newDecoder(path string) *decoder {
	return &decoder{path: path, budget: maxNodes, merging: map[*yaml.Node]bool{}, lines: map[string]int{}}
}

// lineOf returns the line of field, or of its nearest parent that has one.
func (d *decoder) lineOf(field string) int {
	for {
		if l, ok := d.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return 0
		}
		field = field[:i]
	}
}

// reported reports whether a problem was already found in field or below.
func (d *decoder) reported(field string) bool {
	for _, p := range d.problems {
		if p.Field == field || strings.HasPrefix(p.Field, field+".") || strings.HasPrefix(p.Field, field+"[") {
			return true
		}
	}
	return false
}

// entry is one key and value of a mapping.
type entry struct {
	key     string
	keyNode *yaml.Node
	value   *yaml.Node
}

// line is the line of the entry's key, or 0 for a missing entry.
func (e entry) line() int {
	if e.keyNode == nil {
		return 0
	}
	return e.keyNode.Line
}

func (d *decoder) add(line int, field, format string, args ...any) {
	d.problems = append(d.problems, &Error{Path: d.path, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) addAt(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.add(line, field, format, args...)
}

// resolve follows aliases; it returns nil once the node budget is spent.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if d.budget--; d.budget == 0 {
		d.add(0, "", "the document is too large or expands too many aliases (more than %d nodes)", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

// isNull reports whether n is absent, empty or a YAML null.
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName names what n is, for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

func joinField(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// mapping returns the entries of a mapping, resolving aliases and "<<"
// merge keys (explicit keys win over merged ones, earlier merges over later
// ones). A null gives no entries; ok is false when n is something else.
func (d *decoder) mapping(n *yaml.Node, field string) (entries []entry, ok bool) {
	at := n
	if n = d.resolve(n); isNull(n) {
		return nil, n != nil || at == nil
	}
	if n.Kind != yaml.MappingNode {
		d.addAt(at, field, "must be a mapping (key: value), not %s", kindName(n))
		return nil, false
	}
	seen := map[string]*yaml.Node{}
	var merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.merge(v, field)...)
			continue
		}
		key, ok := d.key(k, field)
		if !ok {
			continue
		}
		if prev, dup := seen[key]; dup {
			d.addAt(k, joinField(field, key), "repeats the key already given on line %d", prev.Line)
			continue
		}
		seen[key] = k
		entries = append(entries, entry{key: key, keyNode: k, value: v})
	}
	for _, e := range merged {
		if _, dup := seen[e.key]; !dup {
			seen[e.key] = e.keyNode
			entries = append(entries, e)
		}
	}
	for _, e := range entries {
		d.lines[joinField(field, e.key)] = e.line()
	}
	return entries, true
}

// merge returns the entries a "<<" key brings in: one mapping or a list of
// them.
func (d *decoder) merge(v *yaml.Node, field string) []entry {
	at := v
	if v = d.resolve(v); v == nil {
		return nil
	}
	if d.merging[v] {
		d.addAt(at, field, "the merge key \"<<\" refers to the mapping that contains it")
		return nil
	}
	d.merging[v] = true
	defer delete(d.merging, v)
	switch v.Kind {
	case yaml.MappingNode:
		entries, _ := d.mapping(v, field)
		return entries
	case yaml.SequenceNode:
		var all []entry
		for _, item := range v.Content {
			if r := d.resolve(item); r != nil && r.Kind != yaml.MappingNode {
				d.addAt(item, field, "the merge key \"<<\" takes mappings, not %s", kindName(r))
				continue
			}
			all = append(all, d.merge(item, field)...)
		}
		return all
	}
	d.addAt(at, field, "the merge key \"<<\" takes a mapping or a list of mappings, not %s", kindName(v))
	return nil
}

// key returns the text of a mapping key, which must be a single value.
func (d *decoder) key(k *yaml.Node, field string) (string, bool) {
	at := k
	if k = d.resolve(k); k == nil {
		return "", false
	}
	if k.Kind != yaml.ScalarNode {
		d.addAt(at, field, "a key must be a single value, not %s", kindName(k))
		return "", false
	}
	if isNull(k) {
		return "", true
	}
	return k.Value, true
}

// fields returns the entries of a mapping by key and reports keys that are
// not in known. ok is false when n is neither a mapping nor null.
func (d *decoder) fields(n *yaml.Node, field string, known []string) (map[string]entry, bool) {
	entries, ok := d.mapping(n, field)
	m := make(map[string]entry, len(entries))
	for _, e := range entries {
		if !slices.Contains(known, e.key) {
			d.addAt(e.keyNode, joinField(field, e.key), "unknown key%s", suggest(e.key, known))
			continue
		}
		m[e.key] = e
	}
	return m, ok
}

// text returns a single value as written: numbers and booleans keep their
// text ("5", "true"), null is "".
func (d *decoder) text(n *yaml.Node, field string) string {
	at := n
	if n = d.resolve(n); isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.addAt(at, field, "must be a single value, not %s", kindName(n))
		return ""
	}
	return n.Value
}

// boolean accepts the YAML 1.1 spellings faas-cli's parser accepts.
func (d *decoder) boolean(n *yaml.Node, field string) bool {
	at := n
	if n = d.resolve(n); isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(n.Value) {
		case "true", "yes", "y", "on":
			return true
		case "false", "no", "n", "off":
			return false
		}
	}
	if n.Kind != yaml.ScalarNode {
		d.addAt(at, field, "must be true or false, not %s", kindName(n))
	} else {
		d.addAt(at, field, "must be true or false, not %q", n.Value)
	}
	return false
}

// list returns a list of single values; null gives nil.
func (d *decoder) list(n *yaml.Node, field string) []string {
	at := n
	if n = d.resolve(n); isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addAt(at, field, "must be a list ([a, b] or lines starting with \"- \"), not %s", kindName(n))
		return nil
	}
	var out []string
	for i, item := range n.Content {
		itemField := fmt.Sprintf("%s[%d]", field, i)
		d.lines[itemField] = item.Line
		out = append(out, d.text(item, itemField))
	}
	return out
}

// dict returns a mapping of single values; an empty one gives nil.
func (d *decoder) dict(n *yaml.Node, field string) map[string]string {
	entries, _ := d.mapping(n, field)
	if len(entries) == 0 {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		out[e.key] = d.text(e.value, joinField(field, e.key))
	}
	return out
}

// yamlLineRE picks the line out of the YAML parser's messages.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAML parses data into a document node; an empty input gives an
// empty node. More than one document is an error.
func decodeYAML(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &yaml.Node{}, nil
		}
		return nil, yamlError(path, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{Path: path, Line: next.Line, Msg: "a second YAML document (after ---); a stack file holds one"}
	case !errors.Is(err, io.EOF):
		return nil, yamlError(path, err)
	}
	return &doc, nil
}

func yamlError(path string, err error) error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Path: path, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &Error{Path: path, Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// root returns the top node of a document, or nil for an empty one.
func root(doc *yaml.Node) *yaml.Node {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return nil
}
