package natsx_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

func TestLeaderReaderLast(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t, ""))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leader"})
	if err != nil {
		t.Fatal(err)
	}
	r := natsx.NewLeaderReader(js, "leader")
	if data, rev, err := r.Last(ctx, "k"); data != nil || rev != 0 || err != nil {
		t.Fatalf("no key: %q %d %v", data, rev, err)
	}
	if _, err := kv.Put(ctx, "k", []byte("one")); err != nil {
		t.Fatal(err)
	}
	want, err := kv.Put(ctx, "k", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if data, rev, err := r.Last(ctx, "k"); string(data) != "two" || rev != want || err != nil {
		t.Fatalf("Last: %q %d %v, want two at %d", data, rev, err, want)
	}
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if data, rev, err := r.Last(ctx, "k"); data != nil || rev != 0 || err != nil {
		t.Fatalf("deleted: %q %d %v, want nothing", data, rev, err)
	}
}
