// Package api holds the OpenFaaS-compatible wire types, route paths and name
// rules shared by the gateway, the providers, the queue worker and the client.
//
// It imports only the standard library. Field names and JSON tags follow the
// faas-provider types exactly, so the real faas-cli and the real OpenFaaS
// gateway can talk to gofaas and the other way round.
package api
