// Package registry owns the embedded OCI registry and the image cache.
//
// Registry serves the OCI distribution API (the /v2/ routes) from a
// directory: blobs are stored content-addressed, manifests with their media
// type, tags as one small file per tag, and every write goes through a temp
// file, fsync and rename so a crash never leaves a torn blob or tag.
//
// Cache turns an image reference into a root file system on disk: it finds
// the image in the embedded registry first (so a machine without internet can
// be pre-loaded), then in the named remote registry, and unpacks each
// manifest digest once into a content-addressed directory.
//
// It is a leaf: it imports pkg/api, go-containerregistry (client side only)
// and the standard library, nothing else from the repository.
package registry
