package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai"
	"github.com/escalator-oss/escalator/internal/dispatch/ccai/ccaisim"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/provider"
)

// Numbers of the people below, and how each provider sends them.
const (
	il1 = "+972522345678" // Yemot: 0522345678
	il2 = "+972523456789" // Yemot: 0523456789
	jp1 = "+818043391234" // IoTCall: 08043391234; Yemot: 00818043391234
	jp2 = "+818043391235" // IoTCall: 08043391235; Yemot: 00818043391235
	us1 = "+12052345678"  // CCAI as is; IoTCall has no country id for +1
	us2 = "+18596579625"
)

// sims are one simulator of each provider on loopback, and a dispatcher
// whose chain may use any of them.
type sims struct {
	iot *iotcallsim.Server
	ym  *yemotsim.Server
	cc  *ccaisim.Server
	d   *dispatch.Dispatcher
}

func newSims(t *testing.T) sims {
	t.Helper()
	const authCode = "sim-iotcall-auth"
	s := sims{iot: iotcallsim.NewServer(authCode), ym: yemotsim.New(yemotsim.Config{System: "0770000000", Password: "pw"}),
		cc: ccaisim.New(ccaisim.Config{RatePerSecond: 1000})}
	t.Cleanup(s.iot.Close)
	t.Cleanup(s.ym.Close)
	t.Cleanup(s.cc.Close)
	s.iot.AddRule("one", iotcallsim.Normal)
	s.iot.AddRule("all", iotcallsim.Broadcast)
	s.cc.SetAgent("desk@example.com", ccaisim.Available)
	s.cc.SetAgent("desk-2@example.com", ccaisim.Available)

	iot, err := iotcall.New(iotcall.Config{BaseURL: s.iot.URL(), AuthCode: authCode, CountryIDs: map[int]int{81: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ym, err := yemot.New(yemot.Config{BaseURL: s.ym.URL(), Token: s.ym.Token()})
	if err != nil {
		t.Fatal(err)
	}
	cc, err := ccai.New(ccai.Config{BaseURL: s.cc.URL(), CompanyKey: "sim-key", CompanySecret: "sim-secret", RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// One attempt a request: the failures below are meant, and nothing
	// waits between attempts.
	s.d, err = dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{
		iotcall.Name: iot, yemot.Name: ym, ccai.Name: cc}, Attempts: 1, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// via is the chain of providers names, each with settings fitting the
// strategy (IoTCall's rule "one" is 通常, "all" 一斉).
func via(strategy provider.Strategy, names ...string) []provider.Via {
	out := make([]provider.Via, len(names))
	for i, n := range names {
		var set provider.Settings
		switch n {
		case iotcall.Name:
			set = iotcall.Settings{Rule: "one"}
			if strategy == provider.Broadcast {
				set = iotcall.Settings{Rule: "all"}
			}
		case yemot.Name:
			set = yemot.Settings{IVRPath: "ivr2:/1/100"}
		case ccai.Name:
			set = ccai.Settings{Agents: []string{"desk@example.com", "desk-2@example.com"}}
		}
		out[i] = provider.Via{Provider: n, Settings: set}
	}
	return out
}

// rung are the numbers each simulator was asked to ring, one request a
// field: IoTCall's calls, Yemot's campaigns (- when it dialled none),
// CCAI's calls.
func (s sims) rung() (iot, ym, cc string) {
	var a, b, c []string
	for _, call := range s.iot.Calls() {
		a = append(a, strings.Join(call.Tels, ","))
	}
	for _, camp := range s.ym.Campaigns() {
		if len(camp.Phones) == 0 {
			b = append(b, "-")
			continue
		}
		b = append(b, strings.Join(camp.Phones, ","))
	}
	for _, call := range s.cc.Calls() {
		c = append(c, call.EndUserNumber)
	}
	return strings.Join(a, " | "), strings.Join(b, " | "), strings.Join(c, " | ")
}

func line(r dispatch.Report) string {
	var ps []string
	for _, p := range r.People {
		ps = append(ps, p.Name+"="+p.Phone)
	}
	s := fmt.Sprintf("%s %s [%s]", r.Kind, r.Provider, strings.Join(ps, ","))
	if r.Next != "" {
		s += " → " + r.Next
	}
	return s
}

// TestFurtherNumbersThroughSimulators: with each provider's simulator on
// loopback, a person whose number the provider refuses is reached on their
// next number at the same provider before the chain moves on; a person's
// numbers for one provider are used by that provider alone; a person whose
// every number fails goes on to the next provider, which starts from its
// own first number; every report names the number it is about.
func TestFurtherNumbersThroughSimulators(t *testing.T) {
	noa := provider.Person{Name: "noa", Phone: il1, Alternates: []string{il2}}
	ken := provider.Person{Name: "ken", Phone: us1, Alternates: []string{jp2}}
	kenji := provider.Person{Name: "kenji", Phone: jp1}
	maria := provider.Person{Name: "maria", Phone: us1, Alternates: []string{us2}}
	ren := provider.Person{Name: "ren", Phone: jp1, ByProvider: map[string][]string{yemot.Name: {il1}}}
	aya := provider.Person{Name: "aya", Phone: jp1, Alternates: []string{jp2}}

	tests := []struct {
		name     string
		strategy provider.Strategy
		people   []provider.Person
		chain    []string
		setup    func(s sims)
		want     []string // the reports but attempts
		wantErr  string   // in the first dispatch_failed report
		// What each simulator rang.
		wantIoT, wantYemot, wantCCAI string
	}{
		{
			name: "yemot refuses the first number: reached on the second by yemot", strategy: provider.Single,
			people: []provider.Person{noa}, chain: []string{yemot.Name, iotcall.Name},
			setup: func(s sims) { s.ym.Reject("0522345678", "") },
			want: []string{"dispatch_failed yemot [noa=" + il1 + "]",
				"dispatched yemot [noa=" + il2 + "]"},
			wantErr:   "noa: yemot did not dial 0522345678: not Vaild, trying noa's next number " + il2,
			wantYemot: "- | 0523456789",
		},
		{
			name: "iotcall cannot dial the first number: reached on the second by iotcall", strategy: provider.Single,
			people: []provider.Person{ken}, chain: []string{iotcall.Name, yemot.Name},
			want: []string{"dispatch_failed iotcall [ken=" + us1 + "]",
				"dispatched iotcall [ken=" + jp2 + "]"},
			wantErr: "trying ken's next number " + jp2,
			wantIoT: "08043391235",
		},
		{
			name: "ccai refuses the first number: reached on the second by ccai", strategy: provider.Single,
			people: []provider.Person{maria}, chain: []string{ccai.Name, yemot.Name},
			setup: func(s sims) { s.cc.RefuseNumber(us1) },
			want: []string{"dispatch_failed ccai [maria=" + us1 + "]",
				"dispatched ccai [maria=" + us2 + "]"},
			wantErr:  "maria: end_user_number is not well-formed, trying maria's next number " + us2,
			wantCCAI: us2,
		},
		{
			name: "numbers by provider: yemot dials its own, iotcall the phone", strategy: provider.Single,
			people: []provider.Person{ren}, chain: []string{yemot.Name, iotcall.Name},
			setup: func(s sims) { s.ym.Reject("0522345678", "") },
			want: []string{"dispatch_failed yemot [ren=" + il1 + "]",
				"fallback yemot [ren=" + il1 + "] → iotcall",
				"dispatched iotcall [ren=" + jp1 + "]"},
			wantIoT: "08043391234", wantYemot: "-",
		},
		{
			name: "every number refused: the next provider starts from its first", strategy: provider.Single,
			people: []provider.Person{aya}, chain: []string{yemot.Name, iotcall.Name},
			setup: func(s sims) {
				s.ym.Reject("00818043391234", "")
				s.ym.Reject("00818043391235", "")
			},
			want: []string{"dispatch_failed yemot [aya=" + jp1 + "]",
				"dispatch_failed yemot [aya=" + jp2 + "]",
				"fallback yemot [aya=" + jp2 + "] → iotcall",
				"dispatched iotcall [aya=" + jp1 + "]"},
			wantIoT: "08043391234", wantYemot: "- | -",
		},
		{
			name: "a provider down: the next provider at once, no further number", strategy: provider.Single,
			people: []provider.Person{aya}, chain: []string{iotcall.Name, yemot.Name},
			setup: func(s sims) { s.iot.FailNext(1, http.StatusInternalServerError) },
			want: []string{"dispatch_failed iotcall [aya=" + jp1 + "]",
				"fallback iotcall [aya=" + jp1 + "] → yemot",
				"dispatched yemot [aya=" + jp1 + "]"},
			wantYemot: "00818043391234",
		},
		{
			name: "an iotcall broadcast rule is never fired with one number", strategy: provider.Broadcast,
			people: []provider.Person{ken, kenji}, chain: []string{iotcall.Name, yemot.Name},
			want: []string{"dispatch_failed iotcall [ken=" + us1 + ",kenji=" + jp1 + "]",
				"dispatch_failed iotcall [ken=" + jp2 + "]",
				"fallback iotcall [ken=" + jp2 + ",kenji=" + jp1 + "] → yemot",
				"dispatched yemot [ken=" + us1 + ",kenji=" + jp1 + "]"},
			wantErr:   "trying ken's next number " + jp2,
			wantYemot: "0012052345678,00818043391234",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSims(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			var got []string
			var errs []string
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out := s.d.Dispatch(ctx, dispatch.Request{EscalationID: "esc-1", Strategy: tt.strategy, People: tt.people},
				via(tt.strategy, tt.chain...), 5*time.Minute, func(r dispatch.Report) {
					if r.Kind == dispatch.ReportAttempt {
						return
					}
					got = append(got, line(r))
					if r.Kind == dispatch.ReportDispatchFailed {
						errs = append(errs, r.Err)
					}
					for _, p := range r.People {
						if len(p.Alternates) > 0 || len(p.ByProvider) > 0 {
							t.Errorf("%s report: %s comes with more than the number tried", r.Kind, p.Name)
						}
					}
				})
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("reports:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if tt.wantErr != "" && (len(errs) == 0 || !strings.Contains(errs[0], tt.wantErr)) {
				t.Errorf("dispatch_failed says %q, want it to say %q", errs, tt.wantErr)
			}
			iot, ym, cc := s.rung()
			if iot != tt.wantIoT || ym != tt.wantYemot || cc != tt.wantCCAI {
				t.Errorf("rung:\n iotcall %q, yemot %q, ccai %q\nwant:\n iotcall %q, yemot %q, ccai %q",
					iot, ym, cc, tt.wantIoT, tt.wantYemot, tt.wantCCAI)
			}
			if !out.OK() || len(out.Unreached) != 0 {
				t.Errorf("outcome: reached %v, unreached %v", out.Reached(), out.Unreached)
			}
		})
	}
}
