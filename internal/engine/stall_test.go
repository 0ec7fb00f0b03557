package engine

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/escalator-oss/escalator/internal/consumer"
	"github.com/escalator-oss/escalator/internal/dispatch"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall"
	"github.com/escalator-oss/escalator/internal/dispatch/iotcall/iotcallsim"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot"
	"github.com/escalator-oss/escalator/internal/dispatch/yemot/yemotsim"
	"github.com/escalator-oss/escalator/internal/natsx/natstest"
	"github.com/escalator-oss/escalator/internal/provider"
)

const stallPolicy = `
name: db
match: {labels: {team: db}}
people:
  aiko: {phone: "+81 80-1234-5678"}
steps:
  - notify: [aiko]
    via:
      - iotcall: {rule: db-oncall}
      - yemot: {ivr_path: "ivr2:/1/100"}
    wait: 30s
`

// logSignal returns a logger that closes the returned channel the first
// time it logs msg.
func logSignal(msg string) (*zap.Logger, <-chan struct{}) {
	seen := make(chan struct{})
	var once sync.Once
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.DebugLevel)
	log := zap.New(core, zap.Hooks(func(e zapcore.Entry) error {
		if e.Message == msg {
			once.Do(func() { close(seen) })
		}
		return nil
	}))
	return log, seen
}

// TestNATSStallDuringAStep: NATS stalls (a frozen network, nothing closed)
// the moment the first provider is asked. The fallback provider is still
// called within the first one's budget (no call waits on an outcome
// publish), the step's result is recorded once NATS is back (not placed a
// second time, in doubt), and its outcomes go out once, in order.
func TestNATSStallDuringAStep(t *testing.T) {
	r := newRigWith(t, stallPolicy)
	proxy := natstest.NewProxy(t, r.srv.Addr().String())
	r.url = proxy.URL()
	r.publishRetryFor = DefaultPublishRetryFor
	var recording <-chan struct{}
	r.logger, recording = logSignal("record a placed step: retrying")
	if testing.Verbose() {
		dev, _ := zap.NewDevelopment()
		r.logger = r.logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, dev.Core()) }))
	}

	var frozenAt time.Time
	r.iot.FailNext(1, http.StatusBadRequest) // permanent: on to Yemot at once
	r.iot.SetHook(func(req iotcallsim.Request) {
		if frozenAt.IsZero() {
			frozenAt = time.Now()
			proxy.Freeze()
		}
	})
	called := make(chan time.Time, 10)
	yem := yemotsim.New(yemotsim.Config{Wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if strings.HasSuffix(req.URL.Path, "/CallExtensionBridging") {
				called <- time.Now()
			}
			h.ServeHTTP(w, req)
		})
	}})
	t.Cleanup(yem.Close)
	ic, err := iotcall.New(iotcall.Config{BaseURL: r.iot.URL(), AuthCode: "iot-code"})
	if err != nil {
		t.Fatal(err)
	}
	yc, err := yemot.New(yemot.Config{BaseURL: yem.URL(), Token: yem.Token()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Config{Providers: map[string]dispatch.Provider{iotcall.Name: ic, yemot.Name: yc.Provider()}})
	if err != nil {
		t.Fatal(err)
	}
	r.startWorker(t, d)
	r.publish("alerts.prometheus", `{"id":"pg-down","status":"firing","labels":{"team":"db"}}`)

	budget := d.Budget(30 * time.Second)
	select {
	case at := <-called:
		t.Logf("Yemot called %s after NATS froze (budget %s)", at.Sub(frozenAt).Round(time.Millisecond), budget)
	case <-time.After(budget):
		t.Fatalf("the fallback was not called within the first provider's budget (%s) while NATS stalled", budget)
	}
	select {
	case <-recording:
	case <-time.After(waitFor):
		t.Fatal("the worker never tried to record the step while NATS stalled")
	}
	proxy.Thaw()

	got := r.expect("started 0", "dispatch_failed 0", "fallback 0", "dispatched 0")
	if got[1].Provider != "iotcall" || got[2].Next != "yemot" || got[3].Provider != "yemot" || got[3].InDoubt {
		t.Fatalf("outcomes %+v", got)
	}
	r.publish("alerts.http", `{"id":"pg-down","status":"acknowledged","by":"aiko"}`)
	r.expect("acknowledged 0")
	if n := len(yem.Campaigns()); n != 1 {
		t.Fatalf("%d Yemot campaigns, want 1: the step was placed again", n)
	}
	select {
	case o := <-r.events:
		t.Fatalf("unexpected outcome after the acknowledgement: %+v", o)
	default:
	}
}

// TestSecondWakeupWhilePlacingIsBusy: a wake-up for a step this very
// worker is placing (a redelivery, or a repeated request) is busy, never in
// doubt: the step is not placed twice by one live worker.
func TestSecondWakeupWhilePlacingIsBusy(t *testing.T) {
	r := newRig(t)
	b := &blockFirst{entered: make(chan struct{}), release: make(chan struct{}), next: r.dispatcher(t)}
	w := r.startWorker(t, b)
	r.fireUntilHeld(b.entered)
	esc := loadOnly(t, w.eng)
	data := []byte(`{"kind":"run","id":"` + esc.ID + `"}`)
	err := w.eng.HandleWakeup(context.Background(), consumer.Wakeup{Key: token(esc.Key), Data: data, NumDelivered: 2})
	if err != errBusy {
		t.Fatalf("a second wake-up while placing: %v, want errBusy", err)
	}
	close(b.release)
	if got := r.expect("dispatched 0", "dispatched 1")[0]; got.InDoubt {
		t.Fatalf("step 2 in doubt: %+v", got)
	}
	r.expect("exhausted 1")
	if n := len(r.iot.Calls()); n != 2 {
		t.Fatalf("IoTCall rang %d times, want 2 (one per step)", n)
	}
}

// loadOnly returns the rig's one active escalation.
func loadOnly(t *testing.T, e *Engine) *Escalation {
	t.Helper()
	list, err := e.Active(context.Background())
	if err != nil || len(list) != 1 {
		t.Fatalf("active: %+v, %v", list, err)
	}
	esc, _, err := e.st.load(context.Background(), escKey(list[0].ID[:tokenLen]))
	if err != nil || esc == nil {
		t.Fatalf("load: %v", err)
	}
	return esc
}

// blockFirst holds its first call until released, and passes every call
// on to next (nil: places nothing).
type blockFirst struct {
	entered, release chan struct{}
	next             Dispatcher
	once             sync.Once
}

func (b *blockFirst) Dispatch(ctx context.Context, req dispatch.Request, chain []provider.Via, wait time.Duration, report func(dispatch.Report)) dispatch.Outcome {
	first := false
	b.once.Do(func() { first = true })
	if first {
		close(b.entered)
		select {
		case <-b.release:
		case <-ctx.Done():
		}
	}
	if b.next == nil {
		return dispatch.Outcome{}
	}
	return b.next.Dispatch(ctx, req, chain, wait, report)
}
