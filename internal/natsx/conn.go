package natsx

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ConnConfig says how to reach NATS. Exactly one of URL and Server is used:
// Server (an embedded server) wins and connects in-process.
type ConnConfig struct {
	URL    string
	Server *server.Server
	// Name is the client connection name shown by the server.
	Name string

	// Client auth for an external cluster; set at most one way.
	CredsFile    string // a .creds file (JWT + NKey seed)
	NKeySeedFile string // a file holding an NKey user seed
	User         string
	Password     string
	Token        string

	// TLS: a CA to trust, and a client certificate and key for mutual TLS.
	TLSCA   string
	TLSCert string
	TLSKey  string
}

// Connect opens a NATS connection that reconnects for ever: a worker that
// loses NATS waits for it rather than exiting, and /readyz says so meanwhile.
func Connect(cfg ConnConfig, log *zap.Logger) (*nats.Conn, error) {
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "nats"))
	name := cfg.Name
	if name == "" {
		name = "escalator"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("nats disconnected", zap.Error(err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats async error", zap.Error(err))
		}),
	}
	ways := 0
	for _, set := range []bool{cfg.CredsFile != "", cfg.NKeySeedFile != "", cfg.User != "" || cfg.Password != "", cfg.Token != ""} {
		if set {
			ways++
		}
	}
	if ways > 1 {
		return nil, errors.New("connect nats: set only one of credentials file, NKey seed, user/password and token")
	}
	switch {
	case cfg.CredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	case cfg.NKeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("connect nats: nkey seed: %w", err)
		}
		opts = append(opts, o)
	case cfg.User != "" || cfg.Password != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		if cfg.TLSCert == "" || cfg.TLSKey == "" {
			return nil, errors.New("connect nats: a TLS client certificate needs both --nats-tls-cert and --nats-tls-key")
		}
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	url := cfg.URL
	if cfg.Server != nil {
		opts = append(opts, nats.InProcessServer(cfg.Server))
		url = ""
	} else if url == "" {
		return nil, errors.New("connect nats: no URL and no embedded server")
	} else {
		// Keep trying at start too: a worker started before its NATS cluster
		// is up waits instead of crash-looping.
		opts = append(opts, nats.RetryOnFailedConnect(true))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	return nc, nil
}
