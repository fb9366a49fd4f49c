package api

// Paths of the OpenFaaS gateway and provider APIs.
const (
	PathFunctions     = "/system/functions"
	PathFunction      = "/system/function/"       // + {name}
	PathScaleFunction = "/system/scale-function/" // + {name}
	PathInfo          = "/system/info"
	PathAlert         = "/system/alert"
	PathSecrets       = "/system/secrets"
	PathLogs          = "/system/logs"
	PathNamespaces    = "/system/namespaces"
	PathNamespace     = "/system/namespace/" // + {name}
	PathHealthz       = "/healthz"
	PathMetrics       = "/metrics"
	PathInvoke        = "/function/"       // + {name}[.{namespace}][/{path}]
	PathAsyncInvoke   = "/async-function/" // + {name}[.{namespace}][/{path}]
)

// Headers used across the gateway, watchdog and queue worker.
const (
	HeaderCallID          = "X-Call-Id"
	HeaderStartTime       = "X-Start-Time"
	HeaderDuration        = "X-Duration-Seconds"
	HeaderCallbackURL     = "X-Callback-Url"
	HeaderFunctionStatus  = "X-Function-Status"
	HeaderFunctionName    = "X-Function-Name"
	HeaderInternal        = "X-OpenFaaS-Internal"
	HeaderServedBy        = "X-Served-By"
	HeaderTimeout         = "X-Timeout"
	HeaderForwardedHost   = "X-Forwarded-Host"
	HeaderForwardedFor    = "X-Forwarded-For"
	NamespaceMarkerLabel  = "openfaas"
	NamespaceMarkerValue  = "1"
	ReservedNamespaceKube = "kube-system"
)
