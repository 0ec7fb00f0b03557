package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/escalator-oss/escalator/internal/providers"
)

func TestConfiguredProviders(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want map[string]bool
	}{
		{"none", nil, map[string]bool{"iotcall": false, "yemot": false, "ccai": false}},
		{"iotcall file, yemot token", map[string]string{"IOTCALL_AUTH_CODE_FILE": secretFile, "YEMOT_TOKEN": "t"},
			map[string]bool{"iotcall": true, "yemot": true, "ccai": false}},
		{"yemot login", map[string]string{"YEMOT_USERNAME": "077", "YEMOT_PASSWORD_FILE": secretFile},
			map[string]bool{"iotcall": false, "yemot": true, "ccai": false}},
		{"ccai needs all three", map[string]string{"CCAI_COMPANY_KEY": "k", "CCAI_COMPANY_SECRET": "s"},
			map[string]bool{"iotcall": false, "yemot": false, "ccai": false}},
		{"ccai", map[string]string{"CCAI_COMPANY_KEY": "k", "CCAI_COMPANY_SECRET_FILE": secretFile, "CCAI_BASE_URL": "https://x.example"},
			map[string]bool{"iotcall": false, "yemot": false, "ccai": true}},
	}
	// Half a Yemot login is a mistake to point out, not "not configured".
	if _, err := providers.Load(func(k string) string { return map[string]string{"YEMOT_USERNAME": "077"}[k] }); err == nil ||
		!strings.Contains(err.Error(), "YEMOT_USERNAME and YEMOT_PASSWORD must be set together") {
		t.Errorf("username without password: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setups, err := providers.Load(func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			got := setups.Configured()
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s configured = %v, want %v", k, got[k], v)
				}
			}
		})
	}
}

func TestPolicyCommand(t *testing.T) {
	shipped := filepath.Join("..", "..", "policies")
	alertFile := filepath.Join(t.TempDir(), "alert.json")
	if err := os.WriteFile(alertFile, []byte(`{"id":"a1","status":"firing","labels":{"team":"db","severity":"critical"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	webAlert := filepath.Join(t.TempDir(), "web.json")
	if err := os.WriteFile(webAlert, []byte(`{"id":"w1","status":"firing","labels":{"team":"web"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "c2VjcmV0LWF1dGgtY29kZQ=="
	t.Setenv("IOTCALL_AUTH_CODE", secret)
	t.Setenv("YEMOT_TOKEN", "")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string
	}{
		{"help", []string{"--help"}, 0, "Usage: escalator policy"},
		{"no command", nil, 2, ""},
		{"unknown command", []string{"lint"}, 2, ""},
		{"check shipped", []string{"check", shipped}, 0, "6 policies, 1 heartbeat, 1 people file and 2 rosters valid"},
		{"check shipped roster", []string{"check", filepath.Join(shipped, "people.yaml"), filepath.Join(shipped, "roster-web.yaml")}, 0,
			"0 policies, 1 people file and 1 roster valid"},
		{"check a policy without its people file", []string{"check", filepath.Join(shipped, "payments.yaml")}, 1,
			"payments.yaml:18:14: steps[0].notify[0]: undefined person \"maria\" (define it under people, or in a people file)"},
		{"check shipped heartbeat", []string{"check", filepath.Join(shipped, "heartbeat-backup.yaml")}, 0, "ok  heartbeat nightly-backup  every 25h"},
		{"check strict, only iotcall configured", []string{"check", "--strict", shipped}, 1, "provider yemot is not configured"},
		{"check missing", []string{"check", "no/such/dir"}, 1, "no/such/dir: cannot read"},
		{"simulate", []string{"simulate", "--alert", alertFile, "--policies", shipped, "--at", "2026-03-08T13:30:00Z", "--acked-after", "7m"},
			0, "+7m     acknowledged"},
		{"simulate json", []string{"simulate", "--format", "json", "--alert", alertFile, "--policies", shipped, "--at", "2026-03-08T13:30:00Z"},
			0, `"status": "exhausted"`},
		{"simulate business hours", []string{"simulate", "--alert", webAlert, "--policies", shipped, "--at", "2026-03-09T10:00:00+09:00", "--acked-after", "7m"},
			0, "+7m     acknowledged (--acked-after 7m): the steps stop; re-paged from step 1 at +2h7m if still firing (ack_timeout 2h)"},
		{"simulate after hours", []string{"simulate", "--alert", webAlert, "--policies", shipped, "--at", "2026-03-09T20:00:00+09:00"},
			0, "passed over web-business-hours: not active then: active_time is mon–fri 09:00–18:00 Asia/Tokyo (mon 20:00 there)"},
		{"simulate in maintenance", []string{"simulate", "--alert", webAlert, "--policies", shipped, "--at", "2026-03-08T01:30:00+09:00"},
			0, "silenced by maintenance (window 2, weekly sun 01:00–03:00 Asia/Tokyo) until 2026-03-08T03:00:00+09:00 (+1h30m); then it escalates if still firing"},
		{"simulate needs --alert", []string{"simulate"}, 2, ""},
		{"simulate bad --at", []string{"simulate", "--alert", alertFile, "--at", "yesterday"}, 2, ""},
		{"simulate bad format", []string{"simulate", "--alert", alertFile, "--format", "yaml"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := policyCommand(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			all := out.String() + errb.String()
			if !strings.Contains(all, tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, all)
			}
			if strings.Contains(all, secret) {
				t.Errorf("output leaks the IoTCall auth code")
			}
		})
	}
}
