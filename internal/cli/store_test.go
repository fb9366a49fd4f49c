package cli

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// storeV2 is a functions.json in the format of the OpenFaaS store.
const storeV2 = `{
  "version": "0.2.1",
  "functions": [
    {"title": "NodeInfo", "name": "nodeinfo", "description": "Get info about the machine", "author": "openfaas",
     "images": {"x86_64": "ghcr.io/openfaas/nodeinfo:latest", "arm64": "ghcr.io/openfaas/nodeinfo:latest-arm64", "armhf": "ghcr.io/openfaas/nodeinfo:latest-armhf"},
     "fprocess": "node index.js", "repo_url": "https://github.com/openfaas/faas", "readOnlyRootFilesystem": true,
     "environment": {"write_debug": "true"}, "labels": {"com.openfaas.ui.ext": "json"}, "annotations": {"topic": "x"}},
    {"title": "Figlet", "name": "figlet", "description": "ASCII art", "author": "alexellis",
     "images": {"x86_64": "ghcr.io/openfaas/figlet:latest"}, "fprocess": "figlet"}
  ]
}`

// storeV1 is a legacy store.json: an array with one image per function.
const storeV1 = `[
  {"title": "Colorization", "name": "colorise", "description": "Turn black and white photos to color",
   "image": "alexellis2/openfaas-colorization:0.4.1", "fprocess": "python3 index.py", "network": "func_functions",
   "repo_url": "https://github.com/alexellis/openfaas-colorization", "readOnlyRootFilesystem": true,
   "environment": {"write_timeout": "60s", "url_mode": "true"}, "labels": {"com.openfaas.scale.zero": "false"},
   "annotations": {"topic": "colorise"}, "icon": "https://example.com/icon.png"}
]`

func TestParseStore(t *testing.T) {
	t.Parallel()
	v2, err := parseStore([]byte("\n "+storeV2), "v2.json")
	if err != nil || len(v2) != 2 {
		t.Fatalf("v2: %d functions, %v", len(v2), err)
	}
	n := v2[0]
	if n.Name != "nodeinfo" || n.Title != "NodeInfo" || n.Author != "openfaas" || n.FProcess != "node index.js" ||
		!n.ReadOnlyRootFilesystem || n.Environment["write_debug"] != "true" || n.Labels["com.openfaas.ui.ext"] != "json" ||
		n.Annotations["topic"] != "x" || n.RepoURL != "https://github.com/openfaas/faas" {
		t.Errorf("v2 function = %+v", n)
	}
	for platform, want := range map[string]string{
		"x86_64": "ghcr.io/openfaas/nodeinfo:latest", "arm64": "ghcr.io/openfaas/nodeinfo:latest-arm64",
		"armhf": "ghcr.io/openfaas/nodeinfo:latest-armhf", "s390x": "",
	} {
		if got := n.image(platform); got != want {
			t.Errorf("v2 image(%s) = %q, want %q", platform, got, want)
		}
	}

	v1, err := parseStore([]byte(storeV1), "v1.json")
	if err != nil || len(v1) != 1 {
		t.Fatalf("v1: %d functions, %v", len(v1), err)
	}
	c := v1[0]
	if c.Name != "colorise" || c.FProcess != "python3 index.py" || !c.ReadOnlyRootFilesystem ||
		c.Environment["url_mode"] != "true" || c.Labels["com.openfaas.scale.zero"] != "false" || c.Annotations["topic"] != "colorise" {
		t.Errorf("v1 function = %+v", c)
	}
	for _, platform := range []string{"x86_64", "arm64", "armhf"} {
		if got := c.image(platform); got != "alexellis2/openfaas-colorization:0.4.1" {
			t.Errorf("v1 image(%s) = %q: a v1 image serves every platform", platform, got)
		}
	}

	for _, bad := range []string{"[{", `{"functions": 3}`, "not json"} {
		if _, err := parseStore([]byte(bad), "bad.json"); err == nil || !strings.Contains(err.Error(), "decoding store bad.json") {
			t.Errorf("parseStore(%q) = %v", bad, err)
		}
	}
}

func TestStorePlatform(t *testing.T) {
	t.Parallel()
	native := map[string]string{"amd64": "x86_64", "arm64": "arm64", "arm": "armhf"}[runtime.GOARCH]
	tests := []struct{ in, want string }{
		{"linux/amd64", "x86_64"},
		{"linux/arm64", "arm64"},
		{"linux/arm/v6", "armhf"},
		{"linux/arm/v7", "armhf"},
		{"amd64", "x86_64"},
		{"x86_64", "x86_64"},
		{"arm64", "arm64"},
		{"armhf", "armhf"},
		{"linux/s390x", "linux/s390x"},
	}
	if native != "" {
		tests = append(tests, struct{ in, want string }{"", native})
	}
	for _, tt := range tests {
		if got := storePlatform(tt.in); got != tt.want {
			t.Errorf("storePlatform(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// serveFile answers every GET with body.
func serveFile(t *testing.T, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/functions.json"
}

// columns splits output lines into whitespace-separated fields.
func columns(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestStoreList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	out := e.mustRun(t, "store", "list")
	var names []string
	for _, row := range columns(out)[1:] {
		names = append(names, row[0])
		if row[1] != "gofaas" {
			t.Errorf("author of %s = %q", row[0], row[1])
		}
	}
	sameList(t, "built-in store", names, []string{"echo", "sha512sum", "banner", "markdown", "env"})
	if !strings.HasPrefix(out, "FUNCTION") || !strings.Contains(strings.Split(out, "\n")[0], "DESCRIPTION") {
		t.Errorf("header of:\n%s", out)
	}
	const long = "Converts the Markdown in the request body to HTML: headings, emphasis, lists, code and links (Python 3, standard library only)."
	if !strings.Contains(out, long[:57]+"...\n") || strings.Contains(out, long) {
		t.Errorf("long description not cut to 60 characters:\n%s", out)
	}
	e.out.Reset()
	if out := e.mustRun(t, "store", "ls", "-v"); !strings.Contains(out, long) {
		t.Errorf("-v cut the description:\n%s", out)
	}
}

func TestStoreListPlatformAndURL(t *testing.T) {
	t.Parallel()
	u := serveFile(t, storeV2)
	tests := []struct {
		name string
		args []string
		vars map[string]string
		want []string
	}{
		{"linux/amd64", []string{"store", "list", "--url", u, "-p", "linux/amd64"}, nil, []string{"nodeinfo", "figlet"}},
		{"linux/arm/v6 hides figlet", []string{"store", "list", "--url", u, "-p", "linux/arm/v6"}, nil, []string{"nodeinfo"}},
		{"OPENFAAS_STORE", []string{"store", "list", "--platform", "linux/arm64"}, map[string]string{"OPENFAAS_STORE": u}, []string{"nodeinfo"}},
	}
	for _, tt := range tests {
		e := newEnv(t, "", "")
		for k, v := range tt.vars {
			e.vars[k] = v
		}
		out := e.mustRun(t, tt.args...)
		var names []string
		for _, row := range columns(out)[1:] {
			names = append(names, row[0])
		}
		sameList(t, tt.name, names, tt.want)
	}
}

func TestStoreDescribe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "", "")
	out := e.mustRun(t, "store", "describe", "sha512sum")
	want := map[string]string{
		"Title:": "sha512sum", "Name:": "sha512sum", "Image:": "sha512sum:latest", "Process:": "./handler",
		"Repo URL:": "https://github.com/gofaas/gofaas/tree/main/store/sha512sum", "Template:": "go",
	}
	for key, value := range want {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(l, key); ok && strings.TrimSpace(rest) == value {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q %q in:\n%s", key, value, out)
		}
	}
	e.out.Reset()
	u := serveFile(t, storeV2)
	out = e.mustRun(t, "store", "inspect", "NodeInfo", "--url", u, "-p", "linux/arm64")
	if !strings.Contains(out, "ghcr.io/openfaas/nodeinfo:latest-arm64\n") || strings.Contains(out, "Template:") {
		t.Errorf("describe by title on arm64:\n%s", out)
	}
}

func TestStoreUnknownFunction(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, nil)
	u := serveFile(t, storeV2)
	for _, args := range [][]string{
		{"store", "describe", "nope"},
		{"store", "deploy", "nope"},
		{"store", "deploy", "figlet", "--url", u, "-p", "linux/arm64"},
	} {
		e := newEnv(t, gw.URL(), "")
		err := e.run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "gofaas store list") || !strings.Contains(err.Error(), "the store has no function") {
			t.Errorf("%v: error %v", args, err)
		}
	}
	if len(gw.calls()) != 0 {
		t.Errorf("gateway called: %v", gw.calls())
	}
}

func TestStoreDeployFromURL(t *testing.T) {
	t.Parallel()
	gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "")
	e.login(t, gw.URL(), gwUser, gwPassword)
	e.vars["OPENFAAS_STORE"] = "/nonexistent" // --url wins
	out := e.mustRun(t, "store", "deploy", "colorise", "--url", serveFile(t, storeV1), "-n", "dev", "--label", "extra=1")
	jsonBody(t, deployCalls(gw.fakeGateway)[0].Body, map[string]any{
		"service": "colorise", "image": "alexellis2/openfaas-colorization:0.4.1", "namespace": "dev",
		"envProcess":             "python3 index.py",
		"envVars":                map[string]string{"write_timeout": "60s", "url_mode": "true"},
		"labels":                 map[string]string{"com.openfaas.scale.zero": "false", "extra": "1"},
		"annotations":            map[string]string{"topic": "colorise"},
		"readOnlyRootFilesystem": true,
	})
	if want := "Deploying: colorise.\nDeployed. 202 Accepted.\nURL: " + gw.URL() + "/function/colorise.dev\n"; !strings.HasPrefix(out, want) {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	if c := gw.catalog(); c != `{"repositories":[]}` || strings.Contains(e.errOut.String(), "Building") {
		t.Errorf("a store function from --url was built (catalog %s):\n%s", c, e.errOut)
	}
}

func TestStoreDeployBuiltIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds store functions from their sources")
	}
	t.Parallel()
	tests := []struct {
		name, fprocess string
	}{
		{"env", "bash function/handler.sh"}, // sources only
		{"sha512sum", "./handler"},          // compiled with Go
		{"markdown", "python3 index.py"},    // sources only
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw := newRegistryGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
			e := newBuildEnv(t, gw.URL())
			e.login(t, gw.URL(), gwUser, gwPassword)
			e.mustRun(t, "store", "deploy", tt.name)
			if gw.manifest(tt.name, "latest") == "" {
				t.Fatalf("the registry has no %s:latest; stderr:\n%s", tt.name, e.errOut)
			}
			if !strings.Contains(e.errOut.String(), "Building "+tt.name+" from the store's sources.\n") {
				t.Errorf("stderr:\n%s", e.errOut)
			}
			jsonBody(t, deployCalls(gw.fakeGateway)[0].Body, map[string]any{
				"service": tt.name, "image": tt.name + ":latest", "envProcess": tt.fprocess,
			})

			// Deployed again under another name: the registry has the
			// image, so nothing is built.
			e.errOut.Reset()
			e.mustRun(t, "store", "deploy", tt.name, "--name", "again")
			if strings.Contains(e.errOut.String(), "Building") {
				t.Errorf("built again although the registry has the image:\n%s", e.errOut)
			}
			jsonBody(t, deployCalls(gw.fakeGateway)[1].Body, map[string]any{
				"service": "again", "image": tt.name + ":latest", "envProcess": tt.fprocess,
			})
		})
	}
}

func TestStoreDeployWithoutRegistry(t *testing.T) {
	t.Parallel()
	gw := newFakeGateway(t, map[string]route{"PUT /system/functions": {202, "", nil}})
	e := newEnv(t, gw.URL(), "") // no fwatchdog: nothing may be built
	e.mustRun(t, "store", "deploy", "env")
	jsonBody(t, deployCalls(gw)[0].Body, map[string]any{
		"service": "env", "image": "env:latest", "envProcess": "bash function/handler.sh",
	})
	if strings.Contains(e.errOut.String(), "Building") {
		t.Errorf("built for a gateway without a registry:\n%s", e.errOut)
	}
	if err := e.run(t, "store", "deploy", "env", "--name", "Bad_Name"); err == nil || !strings.Contains(err.Error(), `"Bad_Name" is not valid`) {
		t.Errorf("--name Bad_Name: %v", err)
	}
}
