package registry

// Image is an image unpacked on disk by the Cache, ready to run.
type Image struct {
	// Ref is the reference the image was asked for.
	Ref string
	// Digest is the manifest digest ("sha256:…"); the cache is keyed by it.
	Digest string
	// Root is the absolute path of the unpacked root file system.
	Root string
	// Entrypoint, Cmd, Env, WorkingDir and User come from the image config.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
}
