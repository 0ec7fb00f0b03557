package alert

import "testing"

// benchEvent is the README's example event.
var benchEvent = []byte(`{"id": "db-primary-down", "status": "firing", "summary": "primary database is down",
  "severity": "critical", "labels": {"team": "db", "service": "db-primary", "cluster": "tokyo-1"},
  "annotations": {"runbook": "https://wiki.example/db"}, "source": "prometheus",
  "at": "2026-11-23T03:00:00Z", "generator_url": "http://prometheus.example:9090/graph"}`)

// BenchmarkDecode measures Decode of a typical event, of one named only by
// its labels (the fingerprint is computed), and of a rejected one.
func BenchmarkDecode(b *testing.B) {
	cases := []struct {
		name string
		data []byte
	}{
		{"full", benchEvent},
		{"labels_only", []byte(`{"status":"firing","labels":{"alertname":"DBDown","severity":"critical","team":"db","instance":"db-1:5432"}}`)},
		{"rejected", []byte(`{"id":"x","status":"on fire"}`)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				_, _ = Decode(c.data, 0)
			}
		})
	}
}

// BenchmarkMarshal measures re-encoding a decoded event (the HTTP intake
// does it before publishing).
func BenchmarkMarshal(b *testing.B) {
	ev, err := Decode(benchEvent, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ev.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
