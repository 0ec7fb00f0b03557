package providers

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

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
)

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "code")
	if err := os.WriteFile(secretFile, []byte("  MFhjVA==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{"iotcall": true, "yemot": true, "ccai": true}
	tests := []struct {
		name       string
		env        map[string]string
		wantErr    string
		configured map[string]bool
		check      func(t *testing.T, s Setups)
	}{
		{
			name: "defaults", env: map[string]string{},
			configured: map[string]bool{"iotcall": false, "yemot": false, "ccai": false},
			check: func(t *testing.T, s Setups) {
				if got := s.String(); !strings.Contains(got, "base_url="+iotcall.DefaultBaseURL) || !strings.Contains(got, "country_ids=81=1") {
					t.Errorf("defaults: %s", got)
				}
			},
		},
		{
			name: "answered detection",
			env:  map[string]string{"YEMOT_CHECK_ANSWERED": "true", "CCAI_CHECK_ANSWERED": "1"},
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
			configured: all,
			check: func(t *testing.T, s Setups) {
				if !reflect.DeepEqual(s.Secrets(), []string{"MFhjVA==", "0770000000:1234", "key", "s3cret"}) {
					t.Error("auth code not read from its file, trimmed, or a secret missing")
				}
				if k := s.Kinds().Lookup("iotcall").(iotcall.Kind); !reflect.DeepEqual(k.CountryIDs, map[int]int{81: 1, 1: 2}) {
					t.Errorf("country ids = %v", k.CountryIDs)
				}
				if got := s.String(); !strings.Contains(got, "base_url=https://acme.example.com}") {
					t.Errorf("ccai base URL: %s", got)
				}
			},
		},
		{
			name:       "yemot by username and password",
			env:        map[string]string{"YEMOT_USERNAME": "0770000000", "YEMOT_PASSWORD": "pw12"},
			configured: map[string]bool{"iotcall": false, "yemot": true, "ccai": false},
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
		{
			name:    "every problem at once",
			env:     map[string]string{"CCAI_COMPANY_KEY": "key", "IOTCALL_COUNTRY_IDS": "81:1"},
			wantErr: "parse IOTCALL_COUNTRY_IDS: \"81:1\" is not <calling code>=<list position from 1>, e.g. \"81=1\"\nload environment: CCAI_COMPANY_KEY and CCAI_COMPANY_SECRET must be set together",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Load(mapEnv(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.configured != nil && !reflect.DeepEqual(s.Configured(), tt.configured) {
				t.Errorf("configured %v, want %v", s.Configured(), tt.configured)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestSetupsNeverPrintSecrets(t *testing.T) {
	secrets := map[string]string{
		"IOTCALL_AUTH_CODE": "MFhjVA==", "YEMOT_TOKEN": "0770000000:tokpass", "YEMOT_USERNAME": "0770000000",
		"YEMOT_PASSWORD": "yemotpw99", "CCAI_COMPANY_KEY": "ckey-1234", "CCAI_COMPANY_SECRET": "csecret-5678",
		"CCAI_BASE_URL": "https://acme.example.com",
	}
	// Token and username/password are exclusive in use, not in loading.
	s, err := Load(mapEnv(secrets))
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("config", zap.Any("setups", s), zap.Stringer("str", s))
	js, _ := json.Marshal(s)
	var logged []string
	for _, l := range logs.All() {
		logged = append(logged, fmt.Sprint(l.ContextMap()))
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%+v": fmt.Sprintf("%+v", s), "%#v": fmt.Sprintf("%#v", s),
		//lint:ignore S1025 the test checks the %s verb itself
		"%s": fmt.Sprintf("%s", s), "json": string(js), "zap": strings.Join(logged, " "),
		"one %#v": fmt.Sprintf("%#v %+v", s[0], s[2]),
	}
	for how, out := range outputs {
		for _, name := range []string{"IOTCALL_AUTH_CODE", "YEMOT_TOKEN", "YEMOT_PASSWORD", "CCAI_COMPANY_KEY", "CCAI_COMPANY_SECRET"} {
			if strings.Contains(out, secrets[name]) {
				t.Errorf("%s output leaks %s: %s", how, name, out)
			}
		}
	}
	if out := s.String(); !strings.Contains(out, dispatch.Redacted) {
		t.Errorf("String shows no redaction: %s", out)
	}
}

// TestEveryProviderIsWhole: every registered provider has a name, reads
// its variables (a secret one from a file too), decodes settings that
// survive JSON (the engine snapshots running escalations), and has a
// simulator that a configured worker can call.
func TestEveryProviderIsWhole(t *testing.T) {
	seen := map[string]bool{}
	for _, spec := range All {
		name := spec.Name()
		if name == "" || seen[name] {
			t.Fatalf("provider %q: empty or registered twice", name)
		}
		seen[name] = true
		if len(spec.Vars()) == 0 {
			t.Errorf("%s reads no environment variable", name)
		}
		sim := spec.Simulate(dispatch.SimOptions{})
		setup, err := spec.Load(mapEnv(sim.Env()))
		if err != nil || !setup.Configured() || setup.Name() != name || setup.Kind().Name() != name {
			t.Errorf("%s: its simulator's environment gives %v, %v", name, setup, err)
		}
		if sim.Name() != name {
			t.Errorf("%s: simulator named %q", name, sim.Name())
		}
		sim.Close()
	}
}
