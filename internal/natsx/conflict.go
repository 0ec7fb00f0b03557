package natsx

import (
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Conflict reports whether err is a compare-and-set that lost its race: a
// KV Create of a key that exists, a KV Update, Delete or Purge on a
// revision that is not the latest, or a publish whose expected last
// sequence per subject is not the stream's. A one-replica stream answers
// code 10071, a replicated one 10164, and nats.go maps them to different
// errors (ErrKeyExists matches only 10071; ErrKeyRevisionMismatch is
// Update's): checking one of them alone misses conflicts on a cluster.
func Conflict(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
