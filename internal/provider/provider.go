// Package provider defines the interface every gofaas back-end implements
// (process, docker, swarm, kubernetes, memory, rest), the optional capability
// interfaces the gateway discovers by type assertion, and the errors the
// gateway maps to HTTP status codes.
//
// It imports only pkg/api. Back-ends import this package, never each other.
package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/gofaas/gofaas/pkg/api"
)

// Errors a back-end returns, wrapped with %w; the gateway maps them to status
// codes in one place.
var (
	// ErrNotFound: no such function, secret or namespace (404).
	ErrNotFound = errors.New("not found")
	// ErrExists: the function, secret or namespace already exists (409).
	ErrExists = errors.New("already exists")
	// ErrInvalid: the request is malformed or refers to something missing (400).
	ErrInvalid = errors.New("invalid request")
	// ErrNoReplicas: the function exists but no replica is ready (503).
	ErrNoReplicas = errors.New("no ready replica")
	// ErrNotSupported: the back-end cannot do this (501).
	ErrNotSupported = errors.New("not supported by this provider")
)

// Provider is the core of a back-end: deploy, remove, read, scale and
// resolve functions. Namespace arguments are never empty: the caller fills
// in the default namespace.
type Provider interface {
	// Deploy creates a function. It returns ErrExists if the name is taken
	// and ErrInvalid for a bad deployment (missing secret, bad image).
	Deploy(ctx context.Context, fn api.FunctionDeployment) error
	// Update replaces an existing function's deployment, keeping its replica
	// count. It returns ErrNotFound if there is no such function.
	Update(ctx context.Context, fn api.FunctionDeployment) error
	// Remove deletes a function and stops its replicas.
	Remove(ctx context.Context, name, namespace string) error
	// Functions lists the functions of a namespace.
	Functions(ctx context.Context, namespace string) ([]api.FunctionStatus, error)
	// Function returns one function; usage asks for CPU and memory figures.
	Function(ctx context.Context, name, namespace string, usage bool) (api.FunctionStatus, error)
	// Scale sets the desired replica count (0 allowed).
	Scale(ctx context.Context, name, namespace string, replicas uint64) error
	// Resolve picks a ready replica to send one invocation to. The caller
	// must call Target.Done when the invocation ends.
	Resolve(ctx context.Context, name, namespace string) (Target, error)
}

// Target is where one invocation goes.
type Target struct {
	// URL is the base URL of the replica; the invocation's sub-path
	// ("/" or "/a/b") and raw query are appended to it.
	URL *url.URL
	// Transport, if non-nil, must be used to reach URL (for example a
	// replica listening on a Unix socket in its own network namespace);
	// nil means the caller's default transport.
	Transport http.RoundTripper
	// Done, if non-nil, is called once when the invocation has finished;
	// back-ends use it to count requests in flight per replica.
	Done func()
}

// Informer reports what the back-end is. Optional.
type Informer interface {
	Info(ctx context.Context) api.ProviderInfo
}

// Secrets manages secrets. Optional: without it the gateway answers 501.
type Secrets interface {
	// SecretList returns names and namespaces only, never values.
	SecretList(ctx context.Context, namespace string) ([]api.Secret, error)
	CreateSecret(ctx context.Context, s api.Secret) error
	UpdateSecret(ctx context.Context, s api.Secret) error
	DeleteSecret(ctx context.Context, name, namespace string) error
}

// Logs streams function logs. Optional: without it the gateway answers 501.
type Logs interface {
	// Logs sends matching lines on the returned channel and closes it when
	// done, or when ctx ends (Follow).
	Logs(ctx context.Context, req api.LogRequest) (<-chan api.LogMessage, error)
}

// Namespaces manages namespaces. Optional: without it the gateway lists only
// the default namespace and answers 501 to the namespace CRUD routes.
type Namespaces interface {
	NamespaceList(ctx context.Context) ([]string, error)
	Namespace(ctx context.Context, name string) (api.FunctionNamespace, error)
	CreateNamespace(ctx context.Context, ns api.FunctionNamespace) error
	UpdateNamespace(ctx context.Context, ns api.FunctionNamespace) error
	DeleteNamespace(ctx context.Context, name string) error
}

// Closer releases a back-end's resources (stops replicas). Optional.
type Closer interface {
	Close() error
}
