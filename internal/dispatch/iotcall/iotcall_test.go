package iotcall_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// authCode is a test Auth Code (the shape of the manual's example).
const authCode = "TeStAuThC0de=="

var (
	alice = provider.Person{Name: "alice", Phone: "+818043391234"}
	bob   = provider.Person{Name: "bob", Phone: "+818043391235"}
	carol = provider.Person{Name: "carol", Phone: "+14155550100"}
	dave  = provider.Person{Name: "dave", Phone: "+447911123456"}
)

func request(rule string, people ...provider.Person) dispatch.Request {
	return dispatch.Request{EscalationID: "esc-1", Strategy: provider.Rotation, People: people,
		Via: provider.Via{Provider: iotcall.Name, Settings: iotcall.Settings{Rule: rule}}}
}

func newClient(t *testing.T, base string, mod func(*iotcall.Config)) *iotcall.Client {
	t.Helper()
	cfg := iotcall.Config{BaseURL: base, AuthCode: authCode, CountryIDs: map[int]int{81: 1, 1: 2}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := iotcall.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// capture records the exact requests a handler receives, Authorization
// shown as <AuthCode> when it is exactly the configured code.
type capture struct {
	next http.Handler
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	c.mu.Lock()
	fmt.Fprintf(&c.buf, "%s %s\n", r.Method, r.URL.RequestURI())
	var names []string
	for k := range r.Header {
		if k != "User-Agent" && k != "Accept-Encoding" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		v := r.Header.Get(k)
		if k == "Authorization" && v == authCode {
			v = "<AuthCode>"
		}
		fmt.Fprintf(&c.buf, "%s: %s\n", k, v)
	}
	fmt.Fprintf(&c.buf, "\n%s\n---\n", body)
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

func TestGoldenRequests(t *testing.T) {
	tests := []struct {
		name     string
		people   []provider.Person
		readMode bool
		rounds   int
	}{
		{name: "rotation_three_people", people: []provider.Person{alice, bob, carol}, rounds: 1},
		{name: "read_before_write_skips_same_list", people: []provider.Person{alice, bob}, readMode: true, rounds: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := iotcallsim.New(authCode)
			sim.AddRule("9568b89", iotcallsim.Rotation)
			cap := &capture{next: sim}
			srv := httptest.NewServer(cap)
			defer srv.Close()
			c := newClient(t, srv.URL, func(c *iotcall.Config) { c.ReadBeforeWrite = tt.readMode })
			for range tt.rounds {
				res, err := c.Call(context.Background(), request("9568b89", tt.people...))
				if err != nil {
					t.Fatalf("Call: %v", err)
				}
				if len(res.Reached) != len(tt.people) || res.References[0] != "9568b89" {
					t.Fatalf("result %+v", res)
				}
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			got := cap.buf.Bytes()
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("requests differ from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestSimulatorRecordsWhatWasRung(t *testing.T) {
	srv := iotcallsim.NewServer(authCode)
	defer srv.Close()
	srv.AddRule("r1", iotcallsim.Broadcast)
	c := newClient(t, srv.URL(), nil)
	if _, err := c.Call(context.Background(), request("r1", alice, bob, carol)); err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if len(calls) != 1 || strings.Join(calls[0].Tels, ",") != "08043391234,08043391235,4155550100" {
		t.Fatalf("calls = %+v", calls)
	}
	tels := srv.Tels("r1")
	if tels[2].PrefixID != 2 || tels[2].Group != 3 || tels[0].Check != 1 {
		t.Errorf("list = %+v", tels)
	}
	for _, r := range srv.Requests() {
		if !r.AuthOK || r.Header.Get("Authorization") != "" {
			t.Errorf("request %s %s: auth ok=%v, recorded header %q", r.Method, r.Path, r.AuthOK, r.Header.Get("Authorization"))
		}
	}
}
