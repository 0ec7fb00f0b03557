package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole scenario (a few seconds)")
	}
	var out bytes.Buffer
	if err := Run(context.Background(), Options{Out: &out, Timeout: 45 * time.Second}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"[db-primary-down] matched policy database-demo",
		"step 1: called via iotcall: aiko (+818012345678)",
		"IoTCall simulator: rule db-oncall rang 08012345678",
		"step 2: called via iotcall: aiko (+818012345678), kenji (+819011112222), yuki (+817012345678)",
		"IoTCall simulator: rule db-rotation rang 08012345678, 09011112222, 07012345678",
		"[db-primary-down] acknowledged by kenji",
		"[db-primary-down] resolved",
		"[checkout-errors] matched policy payments-demo",
		"step 1: iotcall failed: call iotcall: gave up after",
		"falling back from iotcall to yemot for hana (+818022223333), ren (+819044445555)",
		"step 1: called via yemot: hana (+818022223333), ren (+819044445555)",
		"Yemot simulator: campaign",
		"[checkout-errors] resolved",
		"[core-router-down] step 1: called via yemot: noa (+972522345678)",
		"[core-router-down] acknowledged by noa (a text message back)",
		"POST /v1/silences",
		"[db-replica-lag] silenced (silenced by silence",
		"[db-replica-lag] matched policy database-demo",
		"[db-replica-lag] step 1: called via iotcall: aiko",
		"[db-replica-lag] resolved",
		"[heartbeat/demo-backup] matched policy database-demo",
		"[heartbeat/demo-backup] step 1: called via iotcall: aiko",
		"[heartbeat/demo-backup] resolved",
		"demo complete",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
}

func TestDemoTimeout(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), Options{Out: &out, Timeout: time.Millisecond})
	if err == nil {
		t.Fatal("a demo that cannot finish in 1ms reported success")
	}
}
