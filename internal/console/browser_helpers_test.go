package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/escalator-oss/escalator/internal/app"
	"github.com/escalator-oss/escalator/internal/app/apptest"
)

// pageWait bounds every wait on the page's state.
const pageWait = 15 * time.Second

// The viewports the screenshots are taken at: a phone held in one hand, and
// a desktop.
var (
	phone   = viewport{"phone", 390, 844}
	desktop = viewport{"desktop", 1280, 800}
)

type viewport struct {
	name          string
	width, height int64
}

// chromium finds the browser: $ESCALATOR_CHROMIUM, or chromium (Debian's,
// which .ci/run installs), chromium-browser or google-chrome on the PATH.
func chromium() (string, error) {
	if p := os.Getenv("ESCALATOR_CHROMIUM"); p != "" {
		return exec.LookPath(p)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium, chromium-browser or google-chrome on the PATH, and ESCALATOR_CHROMIUM is not set")
}

// browser starts a headless Chromium of its own for the test (a fresh
// profile; the flags keep it from opening connections of its own: this
// machine's network is closed) and returns a context for a new tab in it.
// Without a Chromium the test is skipped, saying so.
func browser(t *testing.T) *tab {
	t.Helper()
	path, err := chromium()
	if err != nil {
		t.Skipf("the console's browser tests need Chromium: %v (.ci/run installs Debian's chromium: apt-get install chromium)", err)
	}
	profile, err := os.MkdirTemp("", "escalator-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
	}
	allocCtx, stopAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, stopTab := chromedp.NewContext(allocCtx)
	ctx, stopTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		stopTimeout()
		stopTab()
		stopAlloc() // waits for the browser to exit
		_ = os.RemoveAll(profile)
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", path, err)
	}
	tb := &tab{t: t, ctx: ctx}
	// Uncaught exceptions, and what the browser logs as errors (a request
	// the CSP refused, a script that failed), end the test; so does a
	// CSP violation, which the page cannot hide.
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				tb.mu.Lock()
				tb.errors = append(tb.errors, m.String())
				tb.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			tb.mu.Lock()
			tb.urls = append(tb.urls, e.Request.URL)
			tb.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__csp = [];
		document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// tab is a browser tab a test drives.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string // console errors and uncaught exceptions
	urls   []string // every URL the tab asked for
}

func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v (page errors: %v)", what, err, tb.pageErrors())
	}
}

func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.do("open "+url, chromedp.Navigate(url))
}

func (tb *tab) visible(id string) {
	tb.t.Helper()
	tb.do("wait for #"+id, chromedp.WaitVisible(chromedp.ID(id)))
}

func (tb *tab) click(css string) {
	tb.t.Helper()
	tb.do("click "+css, chromedp.Click(chromedp.CSS(css)))
}

// type_ types text into the field, after what it holds.
func (tb *tab) type_(id, text string) {
	tb.t.Helper()
	tb.do("type into #"+id, chromedp.SendKeys(chromedp.ID(id), text))
}

func (tb *tab) setValue(id, value string) {
	tb.t.Helper()
	tb.do("set #"+id, chromedp.SetValue(chromedp.ID(id), value))
}

// eval evaluates a JavaScript expression in the page into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits for a JavaScript condition on the page to hold, asking it
// every 50 ms until pageWait has passed; then the test fails, saying what
// it waited for and what the page shows.
func (tb *tab) until(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(pageWait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		<-tick.C
	}
	shown, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText.slice(0, 1500)`))
	tb.t.Fatalf("waited %s for %s (%s; error %v; page errors %v); the page shows:\n%s", pageWait, what, cond, err, tb.pageErrors(), shown)
}

// text is the visible text of the first element css selects.
func (tb *tab) text(css string) string {
	tb.t.Helper()
	b, _ := json.Marshal(css)
	return eval[string](tb, `(document.querySelector(`+string(b)+`) || {innerText: ''}).innerText`)
}

// checkClean fails the test for any uncaught exception, console error or
// CSP violation the page had, but for the answers it expects (a 401 before
// a login).
func (tb *tab) checkClean(allowed ...string) {
	tb.t.Helper()
	tb.mu.Lock()
	errs := append([]string(nil), tb.errors...)
	tb.mu.Unlock()
next:
	for _, e := range errs {
		for _, a := range allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		tb.t.Errorf("the page logged an error: %s", e)
	}
	if v := eval[[]string](tb, `window.__csp || []`); len(v) > 0 {
		tb.t.Errorf("CSP violations: %v", v)
	}
}

func (tb *tab) pageErrors() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.errors...)
}

// requested are the URLs the tab asked for.
func (tb *tab) requested() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.urls...)
}

func (tb *tab) viewport(v viewport) {
	tb.t.Helper()
	tb.do("viewport "+v.name, chromedp.EmulateViewport(v.width, v.height))
}

// colorScheme makes the page see prefers-color-scheme as scheme.
func (tb *tab) colorScheme(scheme string) {
	tb.t.Helper()
	_, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		tb.t.Fatal(err)
	}
}

// screenshotDir is where the screenshots go: $ESCALATOR_SCREENSHOTS, or a
// new temporary folder, which the test logs; they are kept.
var screenshotDir = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("ESCALATOR_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "escalator-console-screenshots-")
})

// screenshots saves the page as a phone and a desktop show it:
// <dir>/<name>-phone.png and <name>-desktop.png, then puts the phone back.
func (tb *tab) screenshots(name string) {
	tb.t.Helper()
	dir, err := screenshotDir()
	if err != nil {
		tb.t.Fatal(err)
	}
	_ = eval[bool](tb, `document.getElementById('toasts').replaceChildren() || true`) // passing news, not the view
	for _, v := range []viewport{phone, desktop} {
		tb.viewport(v)
		ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		file := filepath.Join(dir, name+"-"+v.name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	tb.viewport(phone)
	tb.t.Logf("screenshots of %s in %s", name, dir)
}

// named are the roles of the controls a person acts with, which must each
// have an accessible name.
var named = map[string]bool{
	"button": true, "link": true, "textbox": true, "combobox": true, "checkbox": true,
	"radio": true, "searchbox": true, "listbox": true, "menuitem": true, "tab": true, "spinbutton": true,
}

// accessibleNames fails the test for every control the page shows now
// (as the browser's accessibility tree has it) that has no accessible name,
// and returns how many it checked.
func (tb *tab) accessibleNames(where string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, pageWait)
	defer cancel()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		tb.t.Fatalf("accessibility tree: %v", err)
	}
	n := 0
	for _, node := range tree.Nodes {
		if node.Ignored || node.Role == nil {
			continue
		}
		var role string
		_ = json.Unmarshal(node.Role.Value, &role)
		if !named[role] {
			continue
		}
		n++
		var name string
		if node.Name != nil {
			_ = json.Unmarshal(node.Name.Value, &name)
		}
		if strings.TrimSpace(name) == "" {
			tb.t.Errorf("%s: a %s without an accessible name (DOM node %d)", where, role, node.BackendDOMNodeID)
		}
	}
	return n
}

// worker runs the real worker in process (embedded NATS, the providers'
// simulators) with the console tests' policies, until the test ends.
func worker(t *testing.T, token string) *app.App {
	t.Helper()
	cfg := app.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Policies = filepath.Join("testdata", "policies")
	cfg.SimulateProviders = true
	cfg.NATSListen = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.HTTPToken = token
	cfg.ShutdownGrace = 2 * time.Second
	return apptest.Run(t, cfg, pageWait)
}
