// Package natscluster runs a NATS cluster of nats-server processes with JetStream
// on loopback, for tests that run several escalator workers against
// replicated (R3) streams and buckets, and kill nodes under them.
//
// The nodes are the real nats-server binary, built from the module's own
// nats-server dependency, each in its own process: killing one is a crash
// (SIGKILL), as on a real machine. They run outside the test binary, so the
// race detector watches the workers in the test, not nats-server's own
// clustering code (nats-server 2.15.2 has a data race between a clustered
// stream's first expected-sequence publish and its apply loop, which fails
// any -race test that runs it in-process).
package natscluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Name is the cluster name the nodes share.
const Name = "escalator-test"

// Cluster is a running NATS cluster. Its nodes are killed when the test ends.
type Cluster struct {
	// Nodes are the servers, named n0, n1 … in order.
	Nodes []*Node
	// urls are the nodes' client URLs, fixed at start.
	urls []string
}

// Node is one nats-server process.
type Node struct {
	name, url string
	cmd       *exec.Cmd
	mu        sync.Mutex
	killed    bool
}

// Name returns the node's server name (n0, n1 …), as the cluster reports
// stream leaders.
func (n *Node) Name() string { return n.name }

// URL returns the node's client URL.
func (n *Node) URL() string { return n.url }

func (n *Node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.killed
}

// kill sends SIGKILL and waits for the process to be gone. Killing twice is
// harmless.
func (n *Node) kill() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.killed {
		return
	}
	n.killed = true
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
}

// Start builds nats-server, starts n nodes (n ≥ 1) with JetStream, each with
// its own store and log in t.TempDir(), routed to one another, and returns
// once the cluster has a JetStream meta leader.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := buildServer(t)
	ports := freePorts(t, 2*n) // client ports, then cluster ports
	c := &Cluster{}
	for i := range n {
		var routes []string
		for j := range n {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[n+j]))
			}
		}
		dir := t.TempDir()
		name := fmt.Sprintf("n%d", i)
		cmd := exec.Command(bin,
			"--name", name, "-a", "127.0.0.1", "-p", fmt.Sprint(ports[i]),
			"--js", "--store_dir", filepath.Join(dir, "store"),
			"--cluster_name", Name, "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]),
			"--routes", strings.Join(routes, ","),
			"-l", filepath.Join(dir, "nats-server.log"))
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nats-server %s: %v", name, err)
		}
		node := &Node{name: name, url: fmt.Sprintf("nats://127.0.0.1:%d", ports[i]), cmd: cmd}
		t.Cleanup(node.kill)
		t.Cleanup(func() {
			if t.Failed() {
				if log, err := os.ReadFile(filepath.Join(dir, "nats-server.log")); err == nil {
					t.Logf("nats-server %s log (last 2 KiB):\n%s", name, tail(log, 2048))
				}
			}
		})
		c.Nodes = append(c.Nodes, node)
		c.urls = append(c.urls, node.url)
	}
	c.waitMetaLeader(t)
	return c
}

// buildServer builds the nats-server binary of the module's dependency (the
// same version the embedded server is) into a temporary directory.
func buildServer(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2").CombinedOutput()
	if err != nil {
		t.Fatalf("build nats-server: %v\n%s", err, out)
	}
	return bin
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// freePorts picks n free loopback ports, so that every node can be given
// the others' routes before any starts. A port could in theory be taken
// between this and the start; the start then fails loudly.
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

// URLs returns the client URLs of all nodes, the ones killed too, joined
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
// does once the nodes are up and have elected a meta leader. Nothing
// announces either to a client, so this polls, with a generous deadline.
func (c *Cluster) waitMetaLeader(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		var nc *nats.Conn
		if nc, err = nats.Connect(c.URLs(), nats.Timeout(time.Second)); err == nil {
			var js jetstream.JetStream
			if js, err = jetstream.New(nc); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, err = js.AccountInfo(ctx)
				cancel()
			}
			nc.Close()
			if err == nil {
				return
			}
		}
		time.Sleep(100 * time.Millisecond) // poll interval, see above
	}
	t.Fatalf("no JetStream meta leader after 60s: %v", err)
}

// Node returns the running node named name (e.g. a stream's leader from its
// ClusterInfo), or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.name == name && n.running() {
			return n
		}
	}
	return nil
}

// Kill kills node n with SIGKILL, as a crash of its machine would: its
// clients lose their connection, and the others go on without it.
func (c *Cluster) Kill(n *Node) { n.kill() }

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
