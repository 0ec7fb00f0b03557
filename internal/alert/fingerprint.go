package alert

import (
	"fmt"
	"hash/fnv"
	"sort"
)

// Fingerprint returns the alert fingerprint of a label set: FNV-1a 64 over the
// label names and values sorted by name, each followed by the separator byte
// 0xff, as a 16-digit hex string. This is the same value Prometheus and
// Alertmanager compute (model.LabelSet.Fingerprint), so an alert sent by
// Alertmanager and the same alert sent over NATS with only its labels get one id.
func Fingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	h := fnv.New64a()
	sep := []byte{0xff}
	for _, k := range names {
		h.Write([]byte(k))
		h.Write(sep)
		h.Write([]byte(labels[k]))
		h.Write(sep)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
