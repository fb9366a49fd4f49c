package api

import "time"

// FunctionDeployment is the body of POST and PUT /system/functions.
type FunctionDeployment struct {
	// Service is the function's name (required).
	Service string `json:"service"`
	// Image is the OCI image reference (required).
	Image string `json:"image"`
	// Namespace is the function's namespace; empty means the default one.
	Namespace string `json:"namespace,omitempty"`
	// EnvProcess becomes the fprocess environment variable of the watchdog.
	EnvProcess string `json:"envProcess,omitempty"`
	// EnvVars are extra environment variables for the function.
	EnvVars map[string]string `json:"envVars,omitempty"`
	// Constraints are placement constraints such as "node.platform.os == linux".
	Constraints []string `json:"constraints,omitempty"`
	// Secrets names the secrets mounted into the function.
	Secrets []string `json:"secrets,omitempty"`
	// Labels are metadata; com.openfaas.scale.* labels drive scaling.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations are free-form metadata.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Limits are the resource limits.
	Limits *FunctionResources `json:"limits,omitempty"`
	// Requests are the resource requests.
	Requests *FunctionResources `json:"requests,omitempty"`
	// ReadOnlyRootFilesystem asks for a read-only root file system.
	ReadOnlyRootFilesystem bool `json:"readOnlyRootFilesystem,omitempty"`

	// RegistryAuth is the deprecated Swarm registry credential (base64 user:pass).
	RegistryAuth string `json:"registryAuth,omitempty"`
	// Network is the deprecated Swarm network name.
	Network string `json:"network,omitempty"`
}

// FunctionResources are memory and CPU quantities in Kubernetes notation.
type FunctionResources struct {
	Memory    string `json:"memory,omitempty"`
	CPU       string `json:"cpu,omitempty"`
	NvidiaGPU string `json:"nvidia.com/gpu,omitempty"`
	AMDGPU    string `json:"amd.com/gpu,omitempty"`
	IntelGPU  string `json:"intel.com/gpu,omitempty"`
}

// FunctionStatus is one element of GET /system/functions and the body of
// GET /system/function/{name}.
type FunctionStatus struct {
	Name                   string             `json:"name"`
	Image                  string             `json:"image"`
	Namespace              string             `json:"namespace,omitempty"`
	EnvProcess             string             `json:"envProcess,omitempty"`
	EnvVars                map[string]string  `json:"envVars,omitempty"`
	Constraints            []string           `json:"constraints,omitempty"`
	Secrets                []string           `json:"secrets,omitempty"`
	Labels                 map[string]string  `json:"labels,omitempty"`
	Annotations            map[string]string  `json:"annotations,omitempty"`
	Limits                 *FunctionResources `json:"limits,omitempty"`
	Requests               *FunctionResources `json:"requests,omitempty"`
	ReadOnlyRootFilesystem bool               `json:"readOnlyRootFilesystem,omitempty"`

	// InvocationCount is filled in by the gateway from its own counters.
	InvocationCount float64 `json:"invocationCount,omitempty"`
	// Replicas is the desired replica count.
	Replicas uint64 `json:"replicas,omitempty"`
	// AvailableReplicas is the number of replicas ready to serve.
	AvailableReplicas uint64 `json:"availableReplicas,omitempty"`
	// CreatedAt is when the function was first deployed.
	CreatedAt time.Time `json:"createdAt,omitempty"`
	// Usage is only present when asked for with ?usage=1.
	Usage *FunctionUsage `json:"usage,omitempty"`
}

// FunctionUsage reports resource usage summed over a function's replicas.
type FunctionUsage struct {
	// CPU is the CPU time used since the previous sample, in millicores.
	CPU float64 `json:"cpu"`
	// TotalMemoryBytes is the resident memory of all replicas.
	TotalMemoryBytes float64 `json:"totalMemoryBytes"`
}

// ScaleServiceRequest is the body of POST /system/scale-function/{name}.
type ScaleServiceRequest struct {
	ServiceName string `json:"serviceName"`
	Replicas    uint64 `json:"replicas"`
	Namespace   string `json:"namespace,omitempty"`
}

// DeleteFunctionRequest is the body of DELETE /system/functions.
type DeleteFunctionRequest struct {
	FunctionName string `json:"functionName"`
	Namespace    string `json:"namespace,omitempty"`
}

// Secret is the body of the /system/secrets routes. List responses carry
// only Name and Namespace.
type Secret struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	// Value is the secret as text.
	Value string `json:"value,omitempty"`
	// RawValue is the secret as bytes (base64 in JSON), used when Value is empty.
	RawValue []byte `json:"rawValue,omitempty"`
}

// Bytes returns the secret's content: Value if set, else RawValue.
func (s Secret) Bytes() []byte {
	if s.Value != "" {
		return []byte(s.Value)
	}
	return s.RawValue
}

// FunctionNamespace is the body of the /system/namespace/{name} routes.
type FunctionNamespace struct {
	Name        string            `json:"name"`
	Annotations map[string]string `json:"annotations"`
	Labels      map[string]string `json:"labels"`
}

// ProviderInfo is the provider's answer to GET /system/info.
type ProviderInfo struct {
	Name          string       `json:"provider"`
	Orchestration string       `json:"orchestration"`
	Version       *VersionInfo `json:"version"`
}

// VersionInfo describes a build.
type VersionInfo struct {
	CommitMessage string `json:"commit_message,omitempty"`
	SHA           string `json:"sha"`
	Release       string `json:"release"`
}

// GatewayInfo is the gateway's answer to GET /system/info.
type GatewayInfo struct {
	Provider *ProviderInfo `json:"provider"`
	Version  *VersionInfo  `json:"version"`
	Arch     string        `json:"arch"`
}

// LogRequest selects log lines for GET /system/logs.
type LogRequest struct {
	Name      string
	Namespace string
	// Instance limits the lines to one replica; empty means all.
	Instance string
	// Since, when non-nil, drops lines older than it.
	Since *time.Time
	// Tail is the number of most recent lines; <= 0 means all.
	Tail int
	// Follow keeps the stream open for new lines.
	Follow bool
}

// LogMessage is one NDJSON line of GET /system/logs.
type LogMessage struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Instance  string    `json:"instance"`
	Timestamp time.Time `json:"timestamp"`
	Text      string    `json:"text"`
}
