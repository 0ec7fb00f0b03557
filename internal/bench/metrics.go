package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The worker's metrics the bench reads (internal/app, internal/engine,
// internal/metrics).
const (
	metricOutMsgs   = "escalator_nats_out_msgs_total"
	metricInMsgs    = "escalator_nats_in_msgs_total"
	metricStarted   = "escalator_escalations_started_total"
	metricGrouped   = "escalator_alerts_grouped_total"
	metricDuplicate = "escalator_alerts_duplicate_total"
	metricAccepted  = "escalator_alerts_accepted_total"
	metricRejected  = "escalator_alerts_rejected_total"
)

// scrape reads the worker's /metrics: every sample, summed over its labels,
// by metric name. Reading them costs the worker no NATS message.
func scrape(ctx context.Context, httpAddr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the worker's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the worker's metrics: %s", resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

// parseMetrics reads Prometheus's text format.
func parseMetrics(sc *bufio.Scanner) (map[string]float64, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	out := map[string]float64{}
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		name, rest := l, ""
		if i := strings.IndexByte(l, '{'); i >= 0 {
			// Label values may hold spaces: the value follows the last '}'.
			j := strings.LastIndexByte(l, '}')
			if j < i {
				continue
			}
			name, rest = l[:i], l[j+1:]
		} else if i := strings.IndexByte(l, ' '); i >= 0 {
			name, rest = l[:i], l[i:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		out[name] += v
	}
	return out, sc.Err()
}

// msgCount is one reading of the worker connection's message counters.
type msgCount struct {
	at      time.Time
	out, in float64
}

func readMsgs(ctx context.Context, httpAddr string) (msgCount, error) {
	m, err := scrape(ctx, httpAddr)
	if err != nil {
		return msgCount{}, err
	}
	out, ok := m[metricOutMsgs]
	if !ok {
		return msgCount{}, fmt.Errorf("the worker's metrics lack %s", metricOutMsgs)
	}
	return msgCount{at: time.Now(), out: out, in: m[metricInMsgs]}, nil
}
