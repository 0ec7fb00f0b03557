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

func TestLeaderReaderSeq(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t, ""))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "leader"})
	if err != nil {
		t.Fatal(err)
	}
	r := natsx.NewLeaderReader(js, "leader")
	if m, err := r.Seq(ctx, 1); m != nil || err != nil {
		t.Fatalf("an empty stream: %+v %v", m, err)
	}
	one, err := kv.Put(ctx, "a.k", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	two, err := kv.Put(ctx, "b.k", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "b.k"); err != nil { // the marker replaces two (history 1)
		t.Fatal(err)
	}
	m, err := r.Seq(ctx, one)
	if err != nil || m == nil || m.Key != "a.k" || string(m.Data) != "one" || m.Deleted || m.Seq != one || m.At.IsZero() {
		t.Fatalf("Seq(%d): %+v %v", one, m, err)
	}
	if m, err := r.Seq(ctx, two); m != nil || err != nil {
		t.Fatalf("a message no longer in the stream: %+v %v", m, err)
	}
	if m, err := r.Seq(ctx, two+1); err != nil || m == nil || !m.Deleted || m.Key != "b.k" || m.Data != nil {
		t.Fatalf("the delete marker: %+v %v", m, err)
	}
	if m, err := r.Seq(ctx, two+2); m != nil || err != nil {
		t.Fatalf("past the end: %+v %v", m, err)
	}
}
