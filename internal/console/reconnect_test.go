package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/escalator-oss/escalator/internal/outcome"
)

// TestConsoleReconnects: the page reads the event stream through a proxy
// that cuts it; the page opens it again with the Last-Event-ID of the last
// outcome it had, and an alert that fired meanwhile shows up, without a
// reload.
func TestConsoleReconnects(t *testing.T) {
	a := worker(t, "")
	target, err := url.Parse("http://" + a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1 // pass each event on at once
	var (
		mu      sync.Mutex
		cut     []context.CancelFunc
		lastIDs []string // each stream's Last-Event-ID
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/events" {
			ctx, cancel := context.WithCancel(r.Context())
			mu.Lock()
			cut = append(cut, cancel)
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
			r = r.WithContext(ctx)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	tb := browser(t)
	nc, events := outcomes(t, a)

	tb.viewport(phone)
	tb.open(proxy.URL + "/")
	tb.until("the event stream", `document.getElementById('live').dataset.state === 'on'`)
	_ = eval[int](tb, `window.__sameLoad = 7`)
	publish(t, nc, `{"id":"db-before-the-cut","status":"firing","labels":{"team":"db"}}`)
	await(t, events, "db-before-the-cut", outcome.Dispatched)
	tb.until("the first alert", cardOf("active", "db-before-the-cut")+`.innerText.includes('aiko via iotcall')`)

	mu.Lock()
	if len(lastIDs) != 1 || lastIDs[0] != "" {
		t.Fatalf("streams opened %d, Last-Event-ID %q: want one, from now", len(lastIDs), lastIDs)
	}
	for _, c := range cut {
		c()
	}
	mu.Unlock()
	tb.until("the page seeing the cut", `document.getElementById('live').dataset.state === 'off'`)
	publish(t, nc, `{"id":"db-during-the-cut","status":"firing","labels":{"team":"db"}}`)
	tb.until("the stream open again", `document.getElementById('live').dataset.state === 'on'`)
	tb.until("the alert that fired meanwhile", cardOf("active", "db-during-the-cut"))
	if eval[int](tb, `window.__sameLoad || 0`) != 7 {
		t.Fatal("the page was reloaded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 {
		t.Fatalf("the stream was opened %d times", len(lastIDs))
	}
	if n, err := strconv.ParseUint(lastIDs[1], 10, 64); err != nil || n == 0 {
		t.Errorf("the stream opened again with Last-Event-ID %q, want the id of the last outcome the page had", lastIDs[1])
	}
	tb.checkClean("ERR_INCOMPLETE_CHUNKED_ENCODING") // the cut
}
