package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/policy"
)

func BenchmarkCountActive100k(b *testing.B) {
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
	rec := []byte(`{"id":"x","policy":{"name":"p","steps":[{"notify":{"kind":"people","people":["aiko","kenji"]},"strategy":"rotation","via":[{"provider":"iotcall","iotcall":{"rule":"db-rotation"}}],"wait":300000000000}]},"state":{"status":"active"}}`)
	for i := range 100000 {
		if _, err := eng.st.kv.Put(ctx, fmt.Sprintf("e.%024d", i), rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n, err := eng.CountActive(ctx); err != nil || n != 100000 {
			b.Fatal(n, err)
		}
	}
}
