package engine

import (
	"context"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/policy"
)

// BenchmarkUpdate is one change to a record as the engine makes it: from
// the worker's own copy (cached), and read from the stream's leader first
// (read: the copy dropped before each, as for a record another worker
// wrote last).
func BenchmarkUpdate(b *testing.B) {
	_, js := natstest.Connect(b, natstest.RunServer(b, ""))
	ctx := context.Background()
	if err := natsx.EnsureEngine(ctx, js, natsx.Topology{}); err != nil {
		b.Fatal(err)
	}
	d, _ := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{}})
	eng, err := New(ctx, Config{JS: js, Policies: func() *policy.Set { return nil }, Dispatcher: d})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	const key = "e.bench"
	rec := []byte(`{"id":"x","key":"e.bench","policy":{"name":"p","steps":[{"notify":{"kind":"people","people":["aiko","kenji"]},"strategy":"rotation","via":[{"provider":"iotcall","iotcall":{"rule":"db-rotation"}}],"wait":300000000000}]},"state":{"status":"active"}}`)
	if _, err := eng.st.kv.Put(ctx, key, rec); err != nil {
		b.Fatal(err)
	}
	bump := func(cur *Escalation) (*Escalation, error) {
		cur.Grouped++
		return cur, nil
	}
	for _, bc := range []struct {
		name string
		drop bool
	}{{"cached", false}, {"read", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if bc.drop {
					eng.st.recent.drop(key)
				}
				if _, err := eng.update(ctx, key, bump); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
