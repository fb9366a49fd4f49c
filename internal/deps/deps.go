package main
import (
 _ "go.etcd.io/bbolt"
 _ "github.com/google/go-containerregistry/pkg/v1/remote"
 _ "github.com/google/go-containerregistry/pkg/v1/mutate"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/google/uuid"
 _ "github.com/spf13/cobra"
)
func main(){}
