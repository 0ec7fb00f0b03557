package app

import (
	"net/http"
	"path/filepath"
	"testing"
)

// TestOnCallOverHTTP: who is on call in the shipped example rosters, from
// the worker's policies in force, at a chosen moment.
func TestOnCallOverHTTP(t *testing.T) {
	const token = "oncall-token"
	cfg := testConfig(t, t.TempDir())
	dir, err := filepath.Abs(filepath.Join("..", "..", "policies"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Policies, cfg.HTTPToken = dir, token
	a := startEngineApp(t, cfg)
	base := "http://" + a.HTTPAddr() + "/v1/oncall"
	// Monday 2026-11-30 10:00 in Tokyo: business hours, the day desk's
	// layer covers the weekly base rotation.
	code, got := call(t, "GET", base+"?roster=db-primary&at=2026-11-30T10:00:00%2B09:00&next=2", token, "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/oncall: %d %v", code, got)
	}
	rosters, _ := got["rosters"].([]any)
	if len(rosters) != 1 {
		t.Fatalf("rosters %v, want db-primary alone", got)
	}
	r := rosters[0].(map[string]any)
	if r["name"] != "db-primary" || len(r["people"].([]any)) != 1 {
		t.Fatalf("db-primary %v", r)
	}
	if code, got := call(t, "GET", base+"?policy=web-business-hours", token, ""); code != http.StatusOK || len(got["rosters"].([]any)) == 0 {
		t.Fatalf("by policy: %d %v", code, got)
	}
	for _, bad := range []struct {
		query string
		code  int
	}{
		{"?at=monday", http.StatusBadRequest},
		{"?next=-1", http.StatusBadRequest},
		{"?policy=nosuch", http.StatusNotFound},
		{"?roster=nosuch", http.StatusNotFound},
	} {
		if code, got := call(t, "GET", base+bad.query, token, ""); code != bad.code {
			t.Errorf("GET /v1/oncall%s: %d %v, want %d", bad.query, code, got, bad.code)
		}
	}
}
