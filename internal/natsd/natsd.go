// Package natsd runs the NATS server embedded in `gofaas server`: one node
// with JetStream storing on disk, listening on loopback only, and hands out
// in-process client connections to it.
//
// It imports the NATS server and client only; nothing of the repository.
package natsd

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config configures the embedded server.
type Config struct {
	// StoreDir is where JetStream keeps its files (required).
	StoreDir string
	// Host is the listen address (default 127.0.0.1).
	Host string
	// Port is the client port; 0 picks a free one.
	Port int
	// MaxPayload is the largest message accepted (default 1 MiB; JetStream
	// allows up to 8 MiB).
	MaxPayload int32
	// SyncAlways makes JetStream fsync every write: safe against power loss,
	// slower. Without it a stored call survives a crash of gofaas (the data
	// is in the page cache) but not of the machine within the sync interval.
	SyncAlways bool
	// Log receives the server's warnings and errors; nil discards them.
	Log *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	ns *server.Server
}

// Start starts the server and waits until it takes connections.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("nats: no store dir")
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:             "gofaas",
		Host:                   cmp.Or(cfg.Host, "127.0.0.1"),
		Port:                   port,
		JetStream:              true,
		StoreDir:               cfg.StoreDir,
		MaxPayload:             cmp.Or(cfg.MaxPayload, 1<<20),
		SyncAlways:             cfg.SyncAlways,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("configuring nats: %w", err)
	}
	if cfg.Log != nil {
		ns.SetLoggerV2(logger{cfg.Log.With("component", "nats")}, false, false, false)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats: not ready after 30s")
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the nats:// URL other processes connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// Connect returns an in-process client connection named name.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(s.ns), nats.Name(name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connecting to embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// logger passes the server's warnings and errors to slog.
type logger struct{ log *slog.Logger }

func (l logger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l logger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l logger) Debugf(format string, v ...any)  {}
func (l logger) Tracef(format string, v ...any)  {}
