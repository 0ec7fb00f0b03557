package alert

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to Decode. It must never panic; a
// rejection must carry a dead-letter reason; an accepted event must have a
// valid id and status, respect the size limit, and survive re-encoding:
// MarshalJSON then Decode gives the same event, and a second round gives the
// same bytes. The seed corpus is in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		maxSize := int(limit) // 0: DefaultMaxSize
		ev, err := Decode(data, maxSize)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("rejection without a reason: %v", err)
			}
			return
		}
		if maxSize <= 0 {
			maxSize = DefaultMaxSize
		}
		if len(data) > maxSize {
			t.Fatalf("accepted %d bytes over the limit of %d", len(data), maxSize)
		}
		if ev.ID == "" || CheckID(ev.ID) != nil {
			t.Fatalf("accepted an event with a bad id %q", ev.ID)
		}
		if !ev.Status.Valid() {
			t.Fatalf("accepted an event with status %q", ev.Status)
		}
		b, err := ev.MarshalJSON()
		if err != nil {
			t.Fatalf("re-encode %+v: %v", ev, err)
		}
		// Re-encoding may grow an event (HTML-safe escapes), so the second
		// decode has no limit of its own.
		ev2, err := Decode(b, len(b)+1)
		if err != nil {
			t.Fatalf("re-encoded event %s does not decode: %v", b, err)
		}
		if !sameEvent(ev, ev2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, ev2)
		}
		b2, err := ev2.MarshalJSON()
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("second round trip changed the bytes (%v):\n%s\n%s", err, b, b2)
		}
	})
}

// sameEvent compares two events field by field: times by instant and
// offset, Extra by key (values are compared as bytes by the caller's second
// round, since the first encoding compacts them).
func sameEvent(a, b Event) bool {
	if a.ID != b.ID || a.Status != b.Status || a.Summary != b.Summary || a.Severity != b.Severity ||
		a.Source != b.Source || a.By != b.By {
		return false
	}
	if !reflect.DeepEqual(nilIfEmpty(a.Labels), nilIfEmpty(b.Labels)) ||
		!reflect.DeepEqual(nilIfEmpty(a.Annotations), nilIfEmpty(b.Annotations)) {
		return false
	}
	if !a.At.Equal(b.At) || a.At.Format(time.RFC3339Nano) != b.At.Format(time.RFC3339Nano) {
		return false
	}
	if len(a.Extra) != len(b.Extra) {
		return false
	}
	for k := range a.Extra {
		if _, ok := b.Extra[k]; !ok {
			return false
		}
	}
	return true
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
