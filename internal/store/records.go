package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gofaas/gofaas/pkg/api"
)

// recordVersion is the schema version written into every record.
const recordVersion = 1

// Function is a deployed function as stored.
type Function struct {
	// Deployment is the request exactly as deployed, Namespace filled in.
	Deployment api.FunctionDeployment
	// Replicas is the desired replica count.
	Replicas uint64
	// CreatedAt is when the function was first deployed.
	CreatedAt time.Time
}

// Secret is a secret's metadata; the value is never part of it.
type Secret struct {
	Name      string
	Namespace string
	CreatedAt time.Time
	UpdatedAt time.Time
}

type functionRecord struct {
	V          int                    `json:"v"`
	Deployment api.FunctionDeployment `json:"deployment"`
	Replicas   uint64                 `json:"replicas"`
	CreatedAt  time.Time              `json:"createdAt"`
}

type namespaceRecord struct {
	V           int               `json:"v"`
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type secretRecord struct {
	V         int       `json:"v"`
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func encodeFunction(f Function) ([]byte, error) {
	return json.Marshal(functionRecord{V: recordVersion, Deployment: f.Deployment, Replicas: f.Replicas, CreatedAt: f.CreatedAt})
}

// decodeFunction decodes a function record stored under key k, checking
// that it is well formed and really belongs under k.
func decodeFunction(k, data []byte) (Function, error) {
	var r functionRecord
	if err := decodeStrict(data, &r); err != nil {
		return Function{}, fmt.Errorf("function record %q: %w", k, err)
	}
	if err := decodeCheck(&r.V); err != nil {
		return Function{}, fmt.Errorf("function record %q: %w", k, err)
	}
	d := r.Deployment
	if err := validKey(d.Namespace, d.Service, "function"); err != nil {
		return Function{}, fmt.Errorf("function record %q: %w", k, err)
	}
	if !bytes.Equal(k, key(d.Namespace, d.Service)) {
		return Function{}, fmt.Errorf("function record %q: holds %s.%s", k, d.Service, d.Namespace)
	}
	return Function{Deployment: d, Replicas: r.Replicas, CreatedAt: r.CreatedAt}, nil
}

func encodeNamespace(ns api.FunctionNamespace) ([]byte, error) {
	return json.Marshal(namespaceRecord{V: recordVersion, Name: ns.Name, Labels: ns.Labels, Annotations: ns.Annotations})
}

func decodeNamespace(k, data []byte) (api.FunctionNamespace, error) {
	var r namespaceRecord
	if err := decodeStrict(data, &r); err != nil {
		return api.FunctionNamespace{}, fmt.Errorf("namespace record %q: %w", k, err)
	}
	if err := decodeCheck(&r.V); err != nil {
		return api.FunctionNamespace{}, fmt.Errorf("namespace record %q: %w", k, err)
	}
	if err := validName("namespace", r.Name); err != nil || string(k) != r.Name {
		return api.FunctionNamespace{}, fmt.Errorf("namespace record %q: bad name %q", k, r.Name)
	}
	return api.FunctionNamespace{Name: r.Name, Labels: nonNil(r.Labels), Annotations: nonNil(r.Annotations)}, nil
}

func encodeSecret(s Secret) ([]byte, error) {
	return json.Marshal(secretRecord{V: recordVersion, Name: s.Name, Namespace: s.Namespace, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt})
}

func decodeSecret(k, data []byte) (Secret, error) {
	var r secretRecord
	if err := decodeStrict(data, &r); err != nil {
		return Secret{}, fmt.Errorf("secret record %q: %w", k, err)
	}
	if err := decodeCheck(&r.V); err != nil {
		return Secret{}, fmt.Errorf("secret record %q: %w", k, err)
	}
	if err := validKey(r.Namespace, r.Name, "secret"); err != nil || !bytes.Equal(k, key(r.Namespace, r.Name)) {
		return Secret{}, fmt.Errorf("secret record %q: bad name %q in %q", k, r.Name, r.Namespace)
	}
	return Secret{Name: r.Name, Namespace: r.Namespace, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
}

// decodeStrict unmarshals one JSON object, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("decoding: trailing data after the record")
	}
	return nil
}

func decodeCheck(v *int) error {
	if *v != recordVersion {
		return fmt.Errorf("unsupported record version %d", *v)
	}
	return nil
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
