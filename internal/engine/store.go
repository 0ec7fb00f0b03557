package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/escalator-oss/escalator/internal/natsx"
)

// store reads and writes escalations with compare-and-set.
//
// Reads go to the stream's leader. A KV Get is a "direct get", which any
// replica of an R3 bucket may answer, including one that has not yet
// applied the write just acknowledged: a handler that saved an intent and
// read it back could see the record without it, take the escalation for
// gone, and acknowledge the wake-up that should have placed the step (the
// cluster test lost escalations that way). The leader has applied every
// acknowledged write, so a decision never rests on a stale record.
type store struct {
	kv jetstream.KeyValue
	nc *nats.Conn
	// get is the stream's message-get API subject (answered by its leader).
	get string
}

func newStore(js jetstream.JetStream, kv jetstream.KeyValue) store {
	return store{kv: kv, nc: js.Conn(), get: apiPrefix(js.Options()) + "STREAM.MSG.GET." + natsx.KVStream(natsx.BucketEscalations)}
}

// apiPrefix is the JetStream API prefix js sends its requests to.
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

var errConflict = errors.New("escalation changed meanwhile")

// readTimeout bounds one read when ctx has no deadline.
const readTimeout = 5 * time.Second

// msgGetResponse is the answer of $JS.API.STREAM.MSG.GET.
type msgGetResponse struct {
	Message *struct {
		Sequence uint64 `json:"seq"`
		Header   []byte `json:"hdrs"`
		Data     []byte `json:"data"`
	} `json:"message"`
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// errNoMessage is the API's error code for a key that has no record.
const errNoMessage = 10037

// read returns the latest record of key and its revision, from the
// stream's leader; nil, 0 when there is none (or it was deleted).
func (s store) read(ctx context.Context, key string) ([]byte, uint64, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readTimeout)
		defer cancel()
	}
	req, _ := json.Marshal(map[string]string{"last_by_subj": natsx.KVSubject(natsx.BucketEscalations, key)})
	msg, err := s.nc.RequestWithContext(ctx, s.get, req)
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	var resp msgGetResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	if resp.Error != nil {
		if resp.Error.ErrCode == errNoMessage {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("read %s: %s (%d)", key, resp.Error.Description, resp.Error.ErrCode)
	}
	if resp.Message == nil {
		return nil, 0, fmt.Errorf("read %s: empty answer", key)
	}
	if len(resp.Message.Header) > 0 {
		if h, err := nats.DecodeHeadersMsg(resp.Message.Header); err == nil && h.Get("KV-Operation") != "" {
			return nil, 0, nil // a delete or purge marker
		}
	}
	return resp.Message.Data, resp.Message.Sequence, nil
}

// load returns the escalation under key and its revision (nil, 0 when none).
func (s store) load(ctx context.Context, key string) (*Escalation, uint64, error) {
	data, rev, err := s.read(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("load escalation: %w", err)
	}
	if data == nil {
		return nil, 0, nil
	}
	var esc Escalation
	if err := json.Unmarshal(data, &esc); err != nil {
		return nil, 0, fmt.Errorf("decode escalation %s: %w", key, err)
	}
	return &esc, rev, nil
}

// save writes esc if the entry is still at rev (0: must not exist yet) and
// returns the new revision, or errConflict.
func (s store) save(ctx context.Context, esc *Escalation, rev uint64) (uint64, error) {
	data, err := json.Marshal(esc)
	if err != nil {
		return 0, err
	}
	var nrev uint64
	if rev == 0 {
		nrev, err = s.kv.Create(ctx, esc.Key, data)
	} else {
		nrev, err = s.kv.Update(ctx, esc.Key, data, rev)
	}
	if natsx.Conflict(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("save escalation: %w", err)
	}
	return nrev, nil
}
