package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

const waitFor = 15 * time.Second

type running struct {
	app  *App
	got  chan consumer.Delivery
	stop context.CancelFunc
	done chan error
	once sync.Once
}

func startApp(t *testing.T, cfg Config) *running {
	t.Helper()
	a, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &running{app: a, got: make(chan consumer.Delivery, 100), done: make(chan error, 1)}
	a.handler = consumer.HandlerFunc(func(_ context.Context, d consumer.Delivery) error {
		r.got <- d
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- a.Run(ctx) }()
	select {
	case <-a.Started():
	case err := <-r.done:
		t.Fatalf("run: %v", err)
	case <-time.After(waitFor):
		t.Fatal("not started")
	}
	t.Cleanup(func() { r.shutdown(t) })
	return r
}

func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.stop()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("run returned %v", err)
			}
		case <-time.After(waitFor):
			t.Error("shutdown took too long")
		}
	})
}

// testPolicy calls two Japanese numbers through an IoTCall rotation rule,
// with Yemot as the fallback.
const testPolicy = `name: db
match:
  labels: {team: db}
people:
  aiko: {phone: "+81 80-1234-5678"}
  kenji: {phone: "+81 90-1111-2222"}
steps:
  - notify: [aiko, kenji]
    strategy: rotation
    via:
      - iotcall: {rule: db-rotation}
      - yemot: {ivr_path: "ivr2:/1/100", ring: 30s}
    wait: 5m
`

func policyDir(t *testing.T, policies ...string) string {
	t.Helper()
	dir := t.TempDir()
	for i, p := range policies {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.yaml", i)), []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func testConfig(t *testing.T, dataDir string) Config {
	cfg := Defaults()
	cfg.DataDir = dataDir
	cfg.Policies = policyDir(t, testPolicy)
	cfg.SimulateProviders = true
	cfg.NATSListen = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.ShutdownGrace = 2 * time.Second
	return cfg
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunEmbedded(t *testing.T) {
	dir := t.TempDir()
	r := startApp(t, testConfig(t, dir))
	base := "http://" + r.app.HTTPAddr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz %d %s", code, body)
	}

	resp, err := http.Post(base+"/v1/alerts", "application/json", strings.NewReader(`{"id":"db","status":"firing"}`))
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("post: %v %v", err, resp)
	}
	resp.Body.Close()
	// Other programs publish over the embedded server's listener.
	nc, err := nats.Connect(r.app.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Publish("alerts.cron", []byte(`{"id":"backup","status":"firing"}`)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for range 2 {
		select {
		case d := <-r.got:
			seen[d.Event.ID] = d.Source
		case <-time.After(waitFor):
			t.Fatalf("alerts not handled; got %v", seen)
		}
	}
	if seen["db"] != "http" || seen["backup"] != "cron" {
		t.Fatalf("handled %v", seen)
	}
	_, body := get(t, base+"/metrics")
	for _, want := range []string{
		`escalator_alerts_accepted_total{source="cron"} 1`,
		`escalator_nats_connected 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The connection's message counts (escalator bench reads them): the
	// worker has sent (stream setup, pulls, acks) and received by now.
	for _, name := range []string{"escalator_nats_out_msgs_total", "escalator_nats_in_msgs_total"} {
		var n float64
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				n, _ = strconv.ParseFloat(v, 64)
			}
		}
		if n <= 0 {
			t.Errorf("metric %s = %v, want > 0", name, n)
		}
	}

	// A clean stop, then a start on the same data dir.
	r.shutdown(t)
	r2 := startApp(t, testConfig(t, dir))
	nc2, err := nats.Connect(r2.app.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	if err := nc2.Publish("alerts.cron", []byte(`{"id":"after-restart","status":"firing"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-r2.got:
		if d.Event.ID != "after-restart" {
			t.Fatalf("after restart got %q (an alert handled twice?)", d.Event.ID)
		}
		if d.StreamSeq != 3 {
			t.Fatalf("stream seq %d, want 3: the store was not kept", d.StreamSeq)
		}
	case <-time.After(waitFor):
		t.Fatal("not handled after restart")
	}
}

func TestTwoWorkersOneCluster(t *testing.T) {
	s := natstest.RunServer(t, "")
	var apps []*running
	for range 2 {
		cfg := testConfig(t, "")
		cfg.NATSURL = s.ClientURL()
		cfg.HTTPAddr = ""
		apps = append(apps, startApp(t, cfg))
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	const n = 50
	for i := range n {
		if err := nc.Publish("alerts.load", []byte(fmt.Sprintf(`{"id":"a-%d","status":"firing"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	count := map[string]int{}
	merged := make(chan consumer.Delivery)
	for _, r := range apps {
		go func(r *running) {
			for d := range r.got {
				merged <- d
			}
		}(r)
	}
	for range n {
		select {
		case d := <-merged:
			mu.Lock()
			count[d.Event.ID]++
			mu.Unlock()
		case <-time.After(waitFor):
			t.Fatalf("handled %d of %d", len(count), n)
		}
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("%s handled %d times", id, c)
		}
	}
}

// TestRetentionBounds: 0 or at least the 7 days alert events are kept.
func TestRetentionBounds(t *testing.T) {
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {168 * time.Hour, true}, {720 * time.Hour, true}, {167 * time.Hour, false}, {-time.Hour, false}} {
		cfg := Defaults()
		cfg.EscalationRetention = tc.d
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("--escalation-retention %s: %v", tc.d, err)
		}
	}
}
