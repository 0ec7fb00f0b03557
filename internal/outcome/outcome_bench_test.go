package outcome

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/escalator-oss/escalator/internal/provider"
)

// BenchmarkOutcomeEncode measures the JSON of outcome events as published:
// a dispatched outcome with people and references (the README's example),
// and a small acknowledged one.
func BenchmarkOutcomeEncode(b *testing.B) {
	at := time.Date(2026, 11, 23, 13, 26, 33, 790542177, time.UTC)
	cases := []struct {
		name string
		o    Outcome
	}{
		{"dispatched", Outcome{EscalationID: "1a9b12aab46782f23b983bbd-1", AlertID: "db-primary-down", Policy: "database",
			Event: Dispatched, At: at, Provider: "iotcall",
			People:    []provider.Person{{Name: "kenji", Phone: "+819011112222"}, {Name: "aiko", Phone: "+818012345678"}},
			Reference: "db-oncall", References: []string{"db-oncall"}, Attempt: 1, Summary: "primary database is down"}},
		{"acknowledged", Outcome{EscalationID: "1a9b12aab46782f23b983bbd-1", AlertID: "db-primary-down", Policy: "database",
			Event: Acknowledged, Step: 1, At: at, By: "aiko"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data, err := json.Marshal(c.o)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(c.o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
