// Package store owns the persistent state of a gofaas machine: the functions
// deployed on the process back-end (each api.FunctionDeployment exactly as
// deployed, its desired replica count and creation time), the namespaces,
// and the secrets.
//
// State lives in <data-dir>/state.db, a bbolt file. Every mutation is one
// bbolt transaction, so a crash never leaves half a change. Secret values are
// not in the database: each is a file of mode 0600 under
// <data-dir>/fn-secrets/<namespace>/<name> (directories 0700), written to a
// temporary file and renamed into place inside the transaction that records
// its metadata. Listing secrets never reads a value.
//
// Referential rules are checked inside the same transaction as the change:
// a function's namespace and secrets must exist, a secret still named by a
// function cannot be deleted, and a namespace holding functions or secrets
// cannot be deleted. The default namespace (api.DefaultNamespace) always
// exists.
//
// It is a leaf: it imports pkg/api, go.etcd.io/bbolt and the standard library.
package store
