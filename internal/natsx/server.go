// Package natsx owns escalator's use of NATS: the embedded server, the client
// connection, and the names and configurations of every stream, consumer and
// KV bucket. It knows nothing of alerts or policies.
package natsx

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// EmbeddedConfig configures the embedded nats-server.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its files.
	StoreDir string
	// Listen is host:port for NATS clients ("127.0.0.1:4222"; port 0 or -1
	// picks a free one). Empty: no listener, in-process connections only.
	Listen string
	// ServerName names the server in logs and cluster views (default "escalator").
	ServerName string
	// ReadyTimeout bounds the wait for the server to accept connections (default 10s).
	ReadyTimeout time.Duration
}

// StartEmbedded starts a nats-server with JetStream in this process and waits
// until it is ready for connections.
func StartEmbedded(cfg EmbeddedConfig, log *zap.Logger) (*server.Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded nats: store dir is required")
	}
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
	}
	if opts.ServerName == "" {
		opts.ServerName = "escalator"
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: listen address %q: %w", cfg.Listen, err)
		}
		opts.Host, opts.Port = host, port
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	s.SetLoggerV2(&serverLogger{log: log.With(zap.String("component", "nats-server")).Sugar()}, false, false, false)
	go s.Start()
	timeout := cfg.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if !s.ReadyForConnections(timeout) {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats: not ready after %s (is %s already in use?)", timeout, cfg.Listen)
	}
	return s, nil
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	if port == 0 {
		port = -1 // nats-server: -1 is "any free port"
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// serverLogger adapts zap to nats-server's Logger.
type serverLogger struct{ log *zap.SugaredLogger }

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Infof(format, v...) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warnf(format, v...) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Errorf(format, v...) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debugf(format, v...) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.log.Debugf(format, v...) }
