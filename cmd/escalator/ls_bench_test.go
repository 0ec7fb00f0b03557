package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/engine"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/policy"
	"github.com/escalator-oss/escalator/internal/provider"
	"github.com/escalator-oss/escalator/internal/providers"
)

// benchEnded is how many ended escalations BenchmarkList fills the bucket
// with.
const benchEnded = 100_000

// BenchmarkList measures `escalator ls` (the command, over HTTP, against a
// worker) with 100k ended escalations in the escalations bucket, written as
// the engine writes them: key e.<token> holding the record's JSON, and the
// alert index a.<hash of the alert id> → e.<token>.
//
//   - kv-get: the baseline, a raw read of one key of the same bucket;
//   - first: the first listing of a worker that has just started (it reads
//     every record of the bucket once);
//   - later/*: listings after that (they read only what changed): the
//     active ones (none among the 100k), every one (a page of 50 of the
//     100k), the ended ones 500 at a time, and after one record changed.
//
// Run: go test -run '^$' -bench BenchmarkList ./cmd/escalator
func BenchmarkList(b *testing.B) {
	ctx := context.Background()
	srv := natstest.RunServer(b, "")
	nc, js := natstest.Connect(b, srv)
	if err := natsx.EnsureEngine(ctx, js, natsx.Topology{}); err != nil {
		b.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, natsx.BucketEscalations)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for i, p := range cliPolicies {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.yaml", i)), []byte(p), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	setups, err := providers.Load(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	set, err := policy.LoadWith(policy.Options{Providers: setups.Kinds()}, dir)
	if err != nil {
		b.Fatal(err)
	}
	pol, _ := set.Get("db")
	first := fillEnded(b, js, pol, benchEnded)

	// A worker on that server, as `escalator run --nats-url` starts it.
	start := func() (url string, stop func()) {
		cfg := app.Defaults()
		cfg.NATSURL = srv.ClientURL()
		cfg.Policies = dir
		cfg.SimulateProviders = true
		cfg.HTTPAddr = "127.0.0.1:0"
		cfg.HTTPToken = testToken
		cfg.ShutdownGrace = time.Second
		a, err := app.New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		select {
		case <-a.Started():
		case err := <-done:
			b.Fatal(err)
		}
		return "http://" + a.HTTPAddr(), func() { cancel(); <-done }
	}
	ls := func(b *testing.B, url string, args ...string) {
		env := map[string]string{"ESCALATOR_SERVER": url, "ESCALATOR_TOKEN": testToken}
		var errb strings.Builder
		if code := run(ctx, append([]string{"ls"}, args...), io.Discard, &errb, func(k string) string { return env[k] }); code != 0 {
			b.Fatalf("ls %v: exit %d: %s", args, code, errb.String())
		}
	}

	// listed runs one ls and says whether the worker answered (false: a
	// 503, its request timeout).
	listed := func(url string) bool {
		env := map[string]string{"ESCALATOR_SERVER": url, "ESCALATOR_TOKEN": testToken}
		var errb strings.Builder
		code := run(ctx, []string{"ls"}, io.Discard, &errb, func(k string) string { return env[k] })
		if code != 0 && !strings.Contains(errb.String(), "503") {
			b.Fatalf("ls: exit %d: %s", code, errb.String())
		}
		return code == 0
	}
	b.Run("kv-get", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Get(ctx, first); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The first listing of a worker just started reads and decodes every
	// record; past the API's 10 s per request it is answered 503, and the
	// next try starts over. attempts/op counts the tries it took.
	b.Run("first", func(b *testing.B) {
		tries := 0
		for range b.N {
			b.StopTimer()
			url, stop := start()
			b.StartTimer()
			for {
				tries++
				if listed(url) {
					break
				}
				if tries > 5*b.N {
					b.Fatal("no listing within 5 tries: each one timed out")
				}
			}
			b.StopTimer()
			stop()
			b.StartTimer()
		}
		b.ReportMetric(float64(tries)/float64(b.N), "attempts/op")
	})
	url, stop := start()
	defer stop()
	for tries := 0; !listed(url); tries++ { // the first listing
		if tries == 5 {
			b.Fatal("no listing within 5 tries: each one timed out")
		}
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"later/active", nil},
		{"later/all", []string{"--all"}},
		{"later/ended-500", []string{"--status", "ended", "--limit", "500"}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				ls(b, url, tt.args...)
			}
		})
	}
	rec, err := kv.Get(ctx, first)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("later/after-a-change", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if _, err := kv.Put(ctx, first, rec.Value()); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			ls(b, url, "--all")
		}
	})
	_ = nc
}

// fillEnded writes n resolved escalations of policy p and their alert
// index entries, as the engine stores them, and returns one record's key.
func fillEnded(b *testing.B, js jetstream.JetStream, p *policy.Policy, n int) string {
	b.Helper()
	ctx := context.Background()
	hash := func(parts ...string) string { // the engine's key hash (record.go)
		h := sha256.New()
		for _, s := range parts {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		return hex.EncodeToString(h.Sum(nil)[:12])
	}
	aiko := provider.Person{Name: "aiko", Phone: "+818012345678"}
	now := time.Now().UTC().Add(-24 * time.Hour)
	var firstKey string
	for i := range n {
		alertID := fmt.Sprintf("db-%06d", i)
		tok := hash(p.Name, "id="+alertID)
		key := "e." + tok
		at := now.Add(-time.Duration(n-i) * time.Second)
		esc := engine.Escalation{
			ID: fmt.Sprintf("%s-%d", tok, i+1), Key: key, Policy: p, GroupKey: "id=" + alertID, AlertID: alertID,
			Summary: alertID + " is down", Severity: "critical", Labels: map[string]string{"team": "db", "service": "db-primary"},
			State: policy.State{Status: policy.Resolved, Step: 0, StartedAt: at, StepStartedAt: at, EndedAt: at.Add(4 * time.Minute),
				By: "aiko", Via: "alert"},
			Calls: []engine.Call{{Step: 0, At: at, Results: []dispatch.Result{{Provider: "iotcall", References: []string{"db-first"},
				Reached: []provider.Person{aiko}}}}},
			CreatedAt: at, AlertAt: at,
		}
		data, err := json.Marshal(esc)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+natsx.BucketEscalations+"."+key, data); err != nil {
			b.Fatal(err)
		}
		if _, err := js.PublishAsync("$KV."+natsx.BucketEscalations+".a."+hash(alertID), []byte(key)); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			firstKey = key
		}
		if i%1000 == 999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("the bucket did not take the records")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
	}
	return firstKey
}
