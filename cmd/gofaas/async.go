package main

import (
	"context"

	"github.com/spf13/pflag"
)

// asyncOptions are the settings of the async queue in `gofaas server`.
type asyncOptions struct{}

func (o *asyncOptions) addFlags(fs *pflag.FlagSet) {}

// setup starts the async queue and worker and hooks them into the gateway.
func (o *asyncOptions) setup(ctx context.Context, p *serverParts) error { return nil }
