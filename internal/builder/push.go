package builder

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOptions says how PushImage authenticates and reports.
type PushOptions struct {
	// User and Password are basic-auth credentials for the registry. When
	// User is empty the docker config keychain is used
	// (~/.docker/config.json or $DOCKER_CONFIG, credential helpers
	// included), and anonymous access when it has nothing for the registry.
	User, Password string
	// Progress, when not nil, shows the upload as a "push <ref>" step.
	Progress *Progress
}

// PushImage uploads img as ref to its registry and returns the manifest
// digest. Blobs the registry already holds are not sent again. Registries
// on loopback (localhost, 127.x, [::1]) are spoken to over plain HTTP.
func PushImage(ctx context.Context, img v1.Image, ref string, opt PushOptions) (v1.Hash, error) {
	r, err := parseRef(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	opts := []remote.Option{remote.WithContext(ctx)}
	if opt.User != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: opt.User, Password: opt.Password}))
	} else {
		opts = append(opts, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	done := opt.Progress.Step("push " + ref)
	var wg sync.WaitGroup
	if opt.Progress != nil {
		// remote.Write closes the channel when it returns.
		updates := make(chan v1.Update, 64)
		opts = append(opts, remote.WithProgress(updates))
		wg.Go(func() {
			for u := range updates {
				if u.Error == nil {
					opt.Progress.Update(u.Complete, u.Total)
				}
			}
		})
	}
	err = remote.Write(r, img, opts...)
	wg.Wait()
	done(err)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return img.Digest()
}

// parseRef parses an image reference, marking loopback registries as
// plain HTTP.
func parseRef(ref string) (name.Reference, error) {
	var opts []name.Option
	if isLoopbackRef(ref) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return r, nil
}

func isLoopbackRef(ref string) bool {
	host, _, _ := strings.Cut(ref, "/")
	for _, p := range []string{"localhost", "127.", "[::1]"} {
		if strings.HasPrefix(host, p) {
			return true
		}
	}
	return false
}
