// Package templates owns function templates: the ones built into gofaas
// (golang-http, go, python3-http, node-http, bash-streaming, dockerfile;
// embedded from files/), the ones a project keeps in ./template/<lang>
// (as faas-cli does), pulling templates from a git repository with go-git
// (no git binary needed for local repositories), reading a templates.json
// store and scaffolding a new function's handler folder.
//
// A template is what faas-cli expects (template.yml, Dockerfile, the
// entrypoint program and the function/ scaffold) plus an optional gofaas
// block in template.yml telling the Docker-less local builder how to build
// it; templates without one can only be built with Docker.
//
// It imports go-git, go.yaml.in/yaml/v3 and the standard library; never
// another package of the repository.
package templates
