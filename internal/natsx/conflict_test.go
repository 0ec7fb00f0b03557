package natsx_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
)

func TestConflict(t *testing.T) {
	_, js := natstest.Connect(t, natstest.RunServer(t, ""))
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "conflict"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kv.Create(ctx, "k", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "k", []byte("2")); err != nil {
		t.Fatal(err)
	}
	_, createErr := kv.Create(ctx, "k", []byte("3"))
	_, updateErr := kv.Update(ctx, "k", []byte("3"), rev)
	deleteErr := kv.Delete(ctx, "k", jetstream.LastRevision(rev))
	_, publishErr := js.PublishMsg(ctx, &nats.Msg{Subject: "$KV.conflict.k", Data: []byte("3")},
		jetstream.WithExpectLastSequencePerSubject(rev))
	// A replicated stream's answer, which no single server gives here.
	replicated := fmt.Errorf("update: %w", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant})
	for name, err := range map[string]error{"create": createErr, "update": updateErr, "delete": deleteErr,
		"publish": publishErr, "replicated": replicated} {
		if !natsx.Conflict(err) {
			t.Errorf("%s: %v is not taken for a conflict", name, err)
		}
	}
	for _, err := range []error{nil, errors.New("timeout"), jetstream.ErrKeyNotFound,
		&jetstream.APIError{Code: 404, ErrorCode: jetstream.JSErrCodeStreamNotFound}} {
		if natsx.Conflict(err) {
			t.Errorf("%v taken for a conflict", err)
		}
	}
}
