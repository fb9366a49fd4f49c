// Package builder turns a function's sources into an OCI image and pushes
// it to a registry.
//
// It owns the faas-cli build context (Context: template files, handler and
// copied paths laid out under ./build/<fn>), the Docker-less local builder
// (Local: runs the template's build commands, then packs fwatchdog and the
// built files into a reproducible two-layer image), the docker builder
// (Docker: `docker build` in the context, then `docker save` to read the
// image back), a local image store (Save, Load: an OCI layout so that
// `gofaas build` and `gofaas push` can run apart), pushing with progress
// (PushImage, Progress) and finding the fwatchdog binary (FindWatchdog).
//
// Images made here are reproducible: the same files and config give the
// same digest (fixed timestamps and owners, sorted entries, no host
// metadata).
//
// It imports pkg/api and go-containerregistry; never another internal
// package: the CLI glues stack files, templates and the builder together
// and hands plain values in.
package builder
