// Package cluster runs a NATS cluster of embedded nats-server instances with
// JetStream on loopback, for tests that run several escalator workers against
// replicated (R3) streams and buckets, and kill nodes under them.
package cluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Name is the cluster name the nodes share.
const Name = "escalator-test"

// Cluster is a running NATS cluster. Its nodes are shut down when the test
// ends.
type Cluster struct {
	// Nodes are the servers, named n0, n1 … in order.
	Nodes []*server.Server
	// urls are the nodes' client URLs, fixed at start.
	urls []string
}

// Start starts n nodes (n ≥ 1) with JetStream, each with its own store in
// t.TempDir(), routed to one another, and returns once the cluster has a
// JetStream meta leader.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, n)
	c := &Cluster{}
	for i := range n {
		var routes []string
		for j, p := range ports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
			Cluster:    server.ClusterOpts{Name: Name, Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("start nats-server n%d: %v", i, err)
		}
		go s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
		c.Nodes = append(c.Nodes, s)
	}
	for i, s := range c.Nodes {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats-server n%d not ready", i)
		}
		c.urls = append(c.urls, s.ClientURL())
	}
	c.waitMetaLeader(t)
	return c
}

// freePorts picks n free loopback ports for the cluster listeners, so that
// every node can be given the others' routes before any starts. A port could
// in theory be taken between this and the start; the start then fails loudly.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pick a free port: %v", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

// URLs returns the client URLs of all nodes, the ones shut down too, joined
// with commas as `--nats-url` takes them.
func (c *Cluster) URLs() string { return strings.Join(c.urls, ",") }

// Connect connects a client that knows every node and reconnects for ever;
// it is closed when the test ends.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to the cluster: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// waitMetaLeader waits until JetStream answers account requests, which it
// does once the nodes have elected a meta leader. Nothing announces that to
// a client, so this polls, with a generous deadline.
func (c *Cluster) waitMetaLeader(t testing.TB) {
	t.Helper()
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatalf("connect to the cluster: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JetStream meta leader after 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, see above
	}
}

// Node returns the running node named name (e.g. a stream's leader from its
// ClusterInfo), or nil.
func (c *Cluster) Node(name string) *server.Server {
	for _, s := range c.Nodes {
		if s.Name() == name && s.Running() {
			return s
		}
	}
	return nil
}

// Kill shuts node s down, as a crash of its machine would: its clients lose
// their connection, and the others go on without it.
func (c *Cluster) Kill(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// Leaders returns, for each stream named, the server name of its leader, as
// the cluster reports it. A stream without a leader (an election under way)
// gets "".
func Leaders(ctx context.Context, js jetstream.JetStream, streams ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range streams {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("look up stream %s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("read stream %s: %w", name, err)
		}
		if info.Cluster != nil {
			out[name] = info.Cluster.Leader
		}
	}
	return out, nil
}
