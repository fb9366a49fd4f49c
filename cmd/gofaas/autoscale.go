package main

import (
	"context"

	"github.com/spf13/pflag"
)

// autoscaleOptions are the settings of the autoscaler in `gofaas server`.
type autoscaleOptions struct{}

func (o *autoscaleOptions) addFlags(fs *pflag.FlagSet) {}

// setup starts the autoscaler and hooks scale from zero into the gateway.
func (o *autoscaleOptions) setup(ctx context.Context, p *serverParts) error { return nil }
