package natsx

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LeaderReader reads a KV bucket's latest values from its stream's leader,
// with the stream's message-get API ($JS.API.STREAM.MSG.GET). A KV Get is a
// direct get, which any replica of an R3 bucket may answer, including one
// that has not yet applied the write just acknowledged: a decision resting
// on it may act on a stale record (the cluster test lost escalations that
// way, docs/cluster.md). The leader has applied every acknowledged write.
type LeaderReader struct {
	nc     *nats.Conn
	bucket string
	// get is the stream's message-get API subject.
	get string
}

// NewLeaderReader returns a reader of bucket's latest values.
func NewLeaderReader(js jetstream.JetStream, bucket string) LeaderReader {
	return LeaderReader{nc: js.Conn(), bucket: bucket, get: apiPrefix(js.Options()) + "STREAM.MSG.GET." + KVStream(bucket)}
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

// leaderReadTimeout bounds one read when ctx has no deadline.
const leaderReadTimeout = 5 * time.Second

// errNoMessage is the message-get API's error code for a subject that has
// no message.
const errNoMessage = 10037

// Last returns key's latest value and its revision; nil, 0 when it has
// none or was deleted or purged.
func (r LeaderReader) Last(ctx context.Context, key string) ([]byte, uint64, error) {
	m, err := r.get1(ctx, key, map[string]any{"last_by_subj": KVSubject(r.bucket, key)})
	if err != nil || m == nil || m.Deleted {
		return nil, 0, err
	}
	return m.Data, m.Seq, nil
}

// KVMessage is one message of a bucket's stream.
type KVMessage struct {
	Key     string
	Seq     uint64
	Data    []byte
	Deleted bool // a delete or purge marker
	At      time.Time
}

// Seq returns the message at stream sequence seq; nil when there is none
// (deleted from the stream, or not yet written).
func (r LeaderReader) Seq(ctx context.Context, seq uint64) (*KVMessage, error) {
	return r.get1(ctx, fmt.Sprintf("sequence %d", seq), map[string]any{"seq": seq})
}

// get1 asks the leader for one message; nil when there is none.
func (r LeaderReader) get1(ctx context.Context, what string, req map[string]any) (*KVMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaderReadTimeout)
		defer cancel()
	}
	body, _ := json.Marshal(req)
	msg, err := r.nc.RequestWithContext(ctx, r.get, body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	var resp struct {
		Message *struct {
			Subject  string    `json:"subject"`
			Sequence uint64    `json:"seq"`
			Header   []byte    `json:"hdrs"`
			Data     []byte    `json:"data"`
			Time     time.Time `json:"time"`
		} `json:"message"`
		Error *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrCode == errNoMessage:
		return nil, nil
	case resp.Error != nil:
		return nil, fmt.Errorf("read %s: %s (%d)", what, resp.Error.Description, resp.Error.ErrCode)
	case resp.Message == nil:
		return nil, fmt.Errorf("read %s: empty answer", what)
	}
	m := &KVMessage{Key: strings.TrimPrefix(resp.Message.Subject, KVSubject(r.bucket, "")), Seq: resp.Message.Sequence,
		Data: resp.Message.Data, At: resp.Message.Time}
	if len(resp.Message.Header) > 0 {
		if h, err := nats.DecodeHeadersMsg(resp.Message.Header); err == nil && h.Get("KV-Operation") != "" {
			m.Deleted, m.Data = true, nil
		}
	}
	return m, nil
}
