package dispatch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "code")
	if err := os.WriteFile(secretFile, []byte("  MFhjVA==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, e Env)
	}{
		{
			name: "defaults",
			env:  map[string]string{},
			check: func(t *testing.T, e Env) {
				if e.IoTCallBaseURL != DefaultIoTCallBaseURL || e.YemotBaseURL != DefaultYemotBaseURL || e.CCAIBaseURL != "" {
					t.Errorf("base URLs = %q %q %q", e.IoTCallBaseURL, e.YemotBaseURL, e.CCAIBaseURL)
				}
				if !reflect.DeepEqual(e.IoTCallCountryIDs, map[int]int{81: 1}) {
					t.Errorf("country ids = %v", e.IoTCallCountryIDs)
				}
				for _, p := range []string{IoTCall, Yemot, CCAI} {
					if e.Configured(p) {
						t.Errorf("%s configured with no credentials", p)
					}
				}
				if e.YemotCheckAnswered || e.CCAICheckAnswered {
					t.Error("answered detection on by default")
				}
			},
		},
		{
			name: "answered detection",
			env:  map[string]string{"YEMOT_CHECK_ANSWERED": "true", "CCAI_CHECK_ANSWERED": "1"},
			check: func(t *testing.T, e Env) {
				if !e.YemotCheckAnswered || !e.CCAICheckAnswered {
					t.Errorf("check answered = %v %v", e.YemotCheckAnswered, e.CCAICheckAnswered)
				}
			},
		},
		{
			name:    "answered detection misspelt",
			env:     map[string]string{"YEMOT_CHECK_ANSWERED": "yes please"},
			wantErr: `YEMOT_CHECK_ANSWERED must be true or false, got "yes please"`,
		},
		{
			name: "all set, one from a file",
			env: map[string]string{
				"IOTCALL_AUTH_CODE_FILE": secretFile, "IOTCALL_COUNTRY_IDS": "81=1, +1=2",
				"YEMOT_TOKEN": "0770000000:1234", "CCAI_COMPANY_KEY": "key", "CCAI_COMPANY_SECRET": "s3cret",
				"CCAI_BASE_URL": "https://acme.example.com/",
			},
			check: func(t *testing.T, e Env) {
				if e.IoTCallAuthCode.Reveal() != "MFhjVA==" {
					t.Error("auth code not read from its file, trimmed")
				}
				if !reflect.DeepEqual(e.IoTCallCountryIDs, map[int]int{81: 1, 1: 2}) {
					t.Errorf("country ids = %v", e.IoTCallCountryIDs)
				}
				if e.CCAIBaseURL != "https://acme.example.com" {
					t.Errorf("ccai base URL = %q", e.CCAIBaseURL)
				}
				for _, p := range []string{IoTCall, Yemot, CCAI} {
					if !e.Configured(p) {
						t.Errorf("%s not configured", p)
					}
				}
			},
		},
		{
			name:  "yemot by username and password",
			env:   map[string]string{"YEMOT_USERNAME": "0770000000", "YEMOT_PASSWORD": "pw12"},
			check: func(t *testing.T, e Env) { mustConfigured(t, e, Yemot) },
		},
		{
			name:    "both value and file",
			env:     map[string]string{"IOTCALL_AUTH_CODE": "x", "IOTCALL_AUTH_CODE_FILE": secretFile},
			wantErr: "load environment: both IOTCALL_AUTH_CODE and IOTCALL_AUTH_CODE_FILE are set; set one",
		},
		{
			name:    "missing file",
			env:     map[string]string{"YEMOT_TOKEN_FILE": filepath.Join(dir, "nope")},
			wantErr: "load environment: read YEMOT_TOKEN_FILE:",
		},
		{
			name:    "bad country ids",
			env:     map[string]string{"IOTCALL_COUNTRY_IDS": "81:1"},
			wantErr: `parse IOTCALL_COUNTRY_IDS: "81:1" is not <calling code>=<list position from 1>`,
		},
		{
			name:    "half a ccai pair",
			env:     map[string]string{"CCAI_COMPANY_KEY": "key"},
			wantErr: "CCAI_COMPANY_KEY and CCAI_COMPANY_SECRET must be set together",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := LoadEnv(mapEnv(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadEnv error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, e)
		})
	}
}

func mustConfigured(t *testing.T, e Env, p string) {
	t.Helper()
	if !e.Configured(p) {
		t.Errorf("%s not configured", p)
	}
}

func TestEnvNeverPrintsSecrets(t *testing.T) {
	secrets := map[string]string{
		"IOTCALL_AUTH_CODE": "MFhjVA==", "YEMOT_TOKEN": "0770000000:tokpass", "YEMOT_USERNAME": "0770000000",
		"YEMOT_PASSWORD": "yemotpw99", "CCAI_COMPANY_KEY": "ckey-1234", "CCAI_COMPANY_SECRET": "csecret-5678",
		"CCAI_BASE_URL": "https://acme.example.com",
	}
	e, err := LoadEnv(mapEnv(secrets))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("config", zap.Any("env", e), zap.Stringer("str", e))
	js, _ := json.Marshal(e)
	var logged []string
	for _, l := range logs.All() {
		logged = append(logged, fmt.Sprint(l.ContextMap()))
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", e), "%+v": fmt.Sprintf("%+v", e), "%#v": fmt.Sprintf("%#v", e),
		//lint:ignore S1025 the test checks the %s verb itself
		"%s": fmt.Sprintf("%s", e), "json": string(js), "zap": strings.Join(logged, " "),
		"field %v": fmt.Sprintf("%v %+v %#v", e.IoTCallAuthCode, e.CCAICompanySecret, e.YemotPassword),
	}
	for how, out := range outputs {
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s output shows no redaction: %s", how, out)
		}
		for _, name := range []string{"IOTCALL_AUTH_CODE", "YEMOT_TOKEN", "YEMOT_PASSWORD", "CCAI_COMPANY_KEY", "CCAI_COMPANY_SECRET"} {
			if strings.Contains(out, secrets[name]) {
				t.Errorf("%s output leaks %s: %s", how, name, out)
			}
		}
	}
}

func TestRedactor(t *testing.T) {
	r := Redactor("MFhjVA==", "", "abc")
	if got := r("auth MFhjVA== abc"); got != "auth [REDACTED] abc" {
		t.Errorf("Redactor = %q", got)
	}
}
