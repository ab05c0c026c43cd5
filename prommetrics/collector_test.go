package prommetrics

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/msgpattern/msgpattern/rpc"
	"github.com/msgpattern/msgpattern/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quietLogger keeps the tests' output clean.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// startServer starts a server with a succeeding pattern "ok", a pattern
// "bad" that answers with an *rpc.Error, and an event pattern "evt".
func startServer(t *testing.T) *rpc.Server {
	t.Helper()
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0", RateLimitPerSec: -1, RetryAttempts: -1}, quietLogger)
	srv.Handle("ok", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	srv.Handle("bad", rpc.Func(func(json.RawMessage) (any, error) { return nil, rpc.NewError("nope") }))
	srv.HandleEvent("evt", rpc.Func(func(json.RawMessage) (any, error) { return nil, nil }))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// send writes the requests, line framed, on one connection and returns the
// replies to the ones with an id.
func send(t *testing.T, srv *rpc.Server, lines ...string) []string {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	want := 0
	for _, l := range lines {
		if strings.Contains(l, `"id"`) {
			want++
		}
		if _, err := io.WriteString(nc, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	var replies []string
	sc := bufio.NewScanner(nc)
	for len(replies) < want && sc.Scan() {
		replies = append(replies, sc.Text())
	}
	if len(replies) < want {
		t.Fatalf("got %d replies, want %d (%v): %q", len(replies), want, sc.Err(), replies)
	}
	return replies
}

// waitFor polls the server's snapshot until ok holds: a reply goes out
// before its request is counted.
func waitFor(t *testing.T, srv *rpc.Server, ok func(rpc.Metrics) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok(srv.GetMetrics()) {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never settled: %+v", srv.GetMetrics())
		}
		time.Sleep(time.Millisecond)
	}
}

// exercise sends 3 requests to "ok", 2 to "bad", 1 event to "evt", and
// waits until all are counted.
func exercise(t *testing.T, srv *rpc.Server) {
	t.Helper()
	replies := send(t, srv,
		`{"pattern":"ok","data":null,"id":1}`,
		`{"pattern":"bad","data":null,"id":2}`,
		`{"pattern":"ok","data":null,"id":3}`,
		`{"pattern":"bad","data":null,"id":4}`,
		`{"pattern":"ok","data":null,"id":5}`,
		`{"pattern":"evt","data":null}`,
	)
	sort.Strings(replies)
	want := []string{
		`{"err":{"status":"error","message":"nope"},"isDisposed":true,"id":2}`,
		`{"err":{"status":"error","message":"nope"},"isDisposed":true,"id":4}`,
		`{"response":"pong","isDisposed":true,"id":1}`,
		`{"response":"pong","isDisposed":true,"id":3}`,
		`{"response":"pong","isDisposed":true,"id":5}`,
	}
	if !reflect.DeepEqual(replies, want) {
		t.Fatalf("replies:\n%s\nwant:\n%s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}
	waitFor(t, srv, func(m rpc.Metrics) bool { return m.Requests == 5 && m.Events == 1 && m.InFlight == 0 })
}

// only wraps the metrics of c named name (and matching labels) as a
// collector, for testutil.ToFloat64.
type only struct {
	c      prometheus.Collector
	name   string
	labels map[string]string
}

func (o only) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(o, ch) }

func (o only) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { o.c.Collect(all); close(all) }()
	for m := range all {
		if !strings.Contains(m.Desc().String(), `fqName: "`+o.name+`"`) {
			continue
		}
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			panic(err)
		}
		match := 0
		for _, lp := range pb.GetLabel() {
			if v, ok := o.labels[lp.GetName()]; ok && v == lp.GetValue() {
				match++
			}
		}
		if match == len(o.labels) {
			ch <- m
		}
	}
}

func value(c prometheus.Collector, name string, labels ...string) float64 {
	l := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return testutil.ToFloat64(only{c, name, l})
}

// gather returns the metric families of c.
func gather(t *testing.T, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func TestCollector(t *testing.T) {
	srv := startServer(t)
	exercise(t, srv)
	c := NewCollector(srv)

	// 19 single metrics, one per error kind, 9 limit kinds, 10 limit
	// values, two per transport (tcp only here), three per pattern.
	kinds := reflect.TypeFor[rpc.ErrorCounts]().NumField()
	if got, want := testutil.CollectAndCount(c), 19+kinds+9+10+2+3*3; got != want {
		t.Errorf("CollectAndCount = %d, want %d", got, want)
	}
	if n := testutil.CollectAndCount(c, "msgpattern_errors_total"); n != kinds {
		t.Errorf("%d error kinds, want %d", n, kinds)
	}

	if got := value(c, "msgpattern_transport_requests_total", "transport", "tcp"); got != 5 {
		t.Errorf("msgpattern_transport_requests_total{transport=tcp} = %v, want 5", got)
	}
	if got := value(c, "msgpattern_limit", "name", "max_handlers"); got != rpc.DefaultMaxHandlers {
		t.Errorf("msgpattern_limit{name=max_handlers} = %v", got)
	}
	if got := value(c, "msgpattern_limit", "name", "max_in_flight"); got != rpc.DefaultMaxInFlight {
		t.Errorf("msgpattern_limit{name=max_in_flight} = %v", got)
	}
	if got := value(c, "msgpattern_limit", "name", "max_frame_size_units"); got != wire.DefaultMaxFrameUnits {
		t.Errorf("msgpattern_limit{name=max_frame_size_units} = %v", got)
	}
	if got := value(c, "msgpattern_limit", "name", "write_timeout_seconds"); got != rpc.DefaultWriteTimeout.Seconds() {
		t.Errorf("msgpattern_limit{name=write_timeout_seconds} = %v", got)
	}
	if got := value(c, "msgpattern_limit_reached_total", "kind", "slow_consumer"); got != 0 {
		t.Errorf("slow_consumer = %v", got)
	}

	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"msgpattern_requests_total", nil, 5},
		{"msgpattern_events_total", nil, 1},
		{"msgpattern_retries_total", nil, 0},
		{"msgpattern_in_flight", nil, 0},
		{"msgpattern_connections_total", nil, 1},
		{"msgpattern_connections_rejected_total", nil, 0},
		{"msgpattern_errors_total", []string{"kind", "rpc"}, 2},
		{"msgpattern_errors_total", []string{"kind", "timeout"}, 0},
		{"msgpattern_errors_total", []string{"kind", "late_results_dropped"}, 0},
		{"msgpattern_pattern_requests_total", []string{"pattern", "ok"}, 3},
		{"msgpattern_pattern_requests_total", []string{"pattern", "bad"}, 2},
		{"msgpattern_pattern_requests_total", []string{"pattern", "evt"}, 1},
		{"msgpattern_pattern_errors_total", []string{"pattern", "bad"}, 2},
		{"msgpattern_pattern_errors_total", []string{"pattern", "ok"}, 0},
	}
	for _, ck := range checks {
		if got := value(c, ck.name, ck.labels...); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}

	m := srv.GetMetrics()
	for _, ck := range []struct {
		name string
		want float64
	}{
		{"msgpattern_bytes_received_total", float64(m.BytesIn)},
		{"msgpattern_bytes_sent_total", float64(m.BytesOut)},
		{"msgpattern_processing_seconds_total", m.ProcessingTimeMs / 1e3},
		{"msgpattern_start_time_seconds", float64(m.StartedAt.UnixNano()) / 1e9},
	} {
		if got := value(c, ck.name); got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, got, ck.want)
		}
	}
	if m.BytesIn == 0 || m.BytesOut == 0 || m.ProcessingTimeMs <= 0 {
		t.Errorf("traffic not counted: %+v", m)
	}
	if up := value(c, "msgpattern_uptime_seconds"); up <= 0 || up > m.UptimeSeconds+60 {
		t.Errorf("uptime %v, snapshot said %v", up, m.UptimeSeconds)
	}
	if a := value(c, "msgpattern_connections_active"); a < 0 || a > 1 {
		t.Errorf("connections_active = %v", a)
	}

	// The whole families, for the patterns' counters and every error kind.
	var errs strings.Builder
	for _, f := range reflect.VisibleFields(reflect.TypeFor[rpc.ErrorCounts]()) {
		kind, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		n := 0
		if kind == "rpc" {
			n = 2
		}
		fmt.Fprintf(&errs, "msgpattern_errors_total{kind=%q} %d\n", kind, n)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP msgpattern_errors_total Failures by kind (the JSON names of rpc.ErrorCounts).
# TYPE msgpattern_errors_total counter
` + errs.String() + `
# HELP msgpattern_pattern_errors_total Messages whose handler failed, by pattern.
# TYPE msgpattern_pattern_errors_total counter
msgpattern_pattern_errors_total{pattern="bad"} 2
msgpattern_pattern_errors_total{pattern="evt"} 0
msgpattern_pattern_errors_total{pattern="ok"} 0
# HELP msgpattern_pattern_requests_total Messages handled, by pattern (events for event patterns).
# TYPE msgpattern_pattern_requests_total counter
msgpattern_pattern_requests_total{pattern="bad"} 2
msgpattern_pattern_requests_total{pattern="evt"} 1
msgpattern_pattern_requests_total{pattern="ok"} 3
# HELP msgpattern_requests_total Requests routed to a handler (those refused by WithMaxDataBytes included).
# TYPE msgpattern_requests_total counter
msgpattern_requests_total 5
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"msgpattern_errors_total", "msgpattern_pattern_errors_total",
		"msgpattern_pattern_requests_total", "msgpattern_requests_total"); err != nil {
		t.Error(err)
	}

	// The latency histograms.
	mf := gather(t, c)["msgpattern_pattern_latency_seconds"]
	if mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("type %v", mf.GetType())
	}
	counts := map[string]uint64{}
	for _, pm := range mf.GetMetric() {
		pattern := pm.GetLabel()[0].GetValue()
		h := pm.GetHistogram()
		counts[pattern] = h.GetSampleCount()
		checkHistogram(t, pattern, h)
		var snap rpc.PatternMetrics
		for _, p := range m.Patterns {
			if p.Pattern == pattern {
				snap = p
			}
		}
		if h.GetSampleSum() != snap.TotalLatencyMs/1e3 {
			t.Errorf("%s: sum %v, snapshot %v ms", pattern, h.GetSampleSum(), snap.TotalLatencyMs)
		}
		if h.GetCreatedTimestamp().AsTime().UnixNano() != m.StartedAt.UnixNano() {
			t.Errorf("%s: created %v, started %v", pattern, h.GetCreatedTimestamp().AsTime(), m.StartedAt)
		}
	}
	if want := map[string]uint64{"ok": 3, "bad": 2, "evt": 1}; !reflect.DeepEqual(counts, want) {
		t.Errorf("histogram counts %v, want %v", counts, want)
	}
}

// checkHistogram checks that h has the fixed bounds, 2^i µs for i = 0…26,
// and cumulative counts that never decrease and end at most at the count.
func checkHistogram(t *testing.T, name string, h *dto.Histogram) {
	t.Helper()
	b := h.GetBucket()
	if len(b) != 27 {
		t.Errorf("%s: %d buckets, want 27", name, len(b))
		return
	}
	var prev uint64
	for i, bk := range b {
		if want := float64(uint64(1)<<i) / 1e6; bk.GetUpperBound() != want {
			t.Errorf("%s: bucket %d bound %v, want %v", name, i, bk.GetUpperBound(), want)
		}
		if bk.GetCumulativeCount() < prev {
			t.Errorf("%s: bucket %d (le %v) = %d, below the previous %d", name, i, bk.GetUpperBound(), bk.GetCumulativeCount(), prev)
		}
		prev = bk.GetCumulativeCount()
	}
	if prev > h.GetSampleCount() {
		t.Errorf("%s: last bucket %d > count %d", name, prev, h.GetSampleCount())
	}
}

// TestCollectorOptions checks the namespace, const labels, a server with
// no traffic, and that two servers can share a registry when their labels
// differ.
func TestCollectorOptions(t *testing.T) {
	a := rpc.NewServer(nil, quietLogger)
	a.Handle("ping", rpc.Func(func(json.RawMessage) (any, error) { return "pong", nil }))
	b := rpc.NewServer(nil, quietLogger)

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(
		NewCollector(a, WithNamespace("orders"), WithConstLabels(prometheus.Labels{"server": "a"})),
		NewCollector(b, WithNamespace("orders"), WithConstLabels(prometheus.Labels{"server": "b"})),
	)
	want := `
# HELP orders_requests_total Requests routed to a handler (those refused by WithMaxDataBytes included).
# TYPE orders_requests_total counter
orders_requests_total{server="a"} 0
orders_requests_total{server="b"} 0
# HELP orders_pattern_requests_total Messages handled, by pattern (events for event patterns).
# TYPE orders_pattern_requests_total counter
orders_pattern_requests_total{pattern="ping",server="a"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "orders_requests_total", "orders_pattern_requests_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "msgpattern_requests_total"); err != nil || n != 0 {
		t.Errorf("default namespace still used: %d, %v", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	// A pattern never called has an empty histogram with every bound.
	mf := gather(t, NewCollector(a))["msgpattern_pattern_latency_seconds"]
	if len(mf.GetMetric()) != 1 {
		t.Fatalf("%d histograms, want 1", len(mf.GetMetric()))
	}
	h := mf.GetMetric()[0].GetHistogram()
	checkHistogram(t, "ping", h)
	if h.GetSampleCount() != 0 || h.GetSampleSum() != 0 || h.GetBucket()[26].GetCumulativeCount() != 0 {
		t.Errorf("empty histogram: %v", h)
	}

	// The same server twice in one registry, without distinct labels, is
	// refused rather than exported twice.
	dup := prometheus.NewRegistry()
	dup.MustRegister(NewCollector(a))
	if err := dup.Register(NewCollector(a)); err == nil {
		t.Error("registered the same metrics twice")
	}
}

// TestHandler scrapes Handler over HTTP, beside rpc.MetricsHandler.
func TestHandler(t *testing.T) {
	srv := startServer(t)
	exercise(t, srv)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(srv))
	mux.Handle("GET /metrics.json", rpc.MetricsHandler(srv))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
		}
		return resp, string(body)
	}

	resp, body := get("/metrics", "")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, line := range []string{
		"msgpattern_requests_total 5",
		"msgpattern_events_total 1",
		`msgpattern_errors_total{kind="rpc"} 2`,
		`msgpattern_pattern_requests_total{pattern="ok"} 3`,
		`msgpattern_pattern_latency_seconds_count{pattern="ok"} 3`,
		`msgpattern_pattern_latency_seconds_bucket{pattern="ok",le="+Inf"} 3`,
		`msgpattern_pattern_latency_seconds_bucket{pattern="ok",le="67.108864"} 3`,
		"# TYPE go_goroutines gauge",
		"# TYPE process_start_time_seconds gauge",
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	// The JSON snapshot agrees.
	_, body = get("/metrics.json", "")
	var m rpc.Metrics
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	if m.Requests != 5 || m.ErrorByKind.RPC != 2 {
		t.Errorf("JSON snapshot: %+v", m)
	}
}

// TestLatencyOverTCP checks the histogram of a handler of known latency.
func TestLatencyOverTCP(t *testing.T) {
	srv := startServer(t)
	srv.Handle("slow", rpc.Func(func(json.RawMessage) (any, error) {
		time.Sleep(3 * time.Millisecond)
		return nil, nil
	}))
	send(t, srv, `{"pattern":"slow","data":null,"id":1}`, `{"pattern":"slow","data":null,"id":2}`)
	waitFor(t, srv, func(m rpc.Metrics) bool { return m.Requests == 2 && m.InFlight == 0 })

	for _, pm := range gather(t, NewCollector(srv))["msgpattern_pattern_latency_seconds"].GetMetric() {
		if pm.GetLabel()[0].GetValue() != "slow" {
			continue
		}
		h := pm.GetHistogram()
		checkHistogram(t, "slow", h)
		if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.006 {
			t.Errorf("count %d, sum %v; want 2 and at least 6 ms", h.GetSampleCount(), h.GetSampleSum())
		}
		b := h.GetBucket()
		// 2^11 µs = 2.048 ms: nothing below; 2^26 µs = 67.1 s: both.
		if b[11].GetCumulativeCount() != 0 || b[26].GetCumulativeCount() != 2 {
			t.Errorf("le %v: %d (want 0), le %v: %d (want 2)",
				b[11].GetUpperBound(), b[11].GetCumulativeCount(), b[26].GetUpperBound(), b[26].GetCumulativeCount())
		}
		return
	}
	t.Fatal("no histogram for slow")
}

// leMs is a bound of 2^i µs as rpc computes LeMs.
func leMs(i int) float64 { return float64(int64(1)<<i*1000) / 1e6 }

func lb(leMs float64, n uint64) rpc.LatencyBucket { return rpc.LatencyBucket{LeMs: leMs, Count: n} }

func TestLatencyBuckets(t *testing.T) {
	// want lists the cumulative counts at the first bounds; later ones
	// repeat the last.
	tests := []struct {
		name      string
		snap      []rpc.LatencyBucket
		count     uint64
		want      []uint64
		wantCount uint64
	}{
		{"empty", nil, 0, []uint64{0}, 0},
		{"rpc's prefix", []rpc.LatencyBucket{lb(leMs(0), 0), lb(leMs(1), 1), lb(leMs(2), 0), lb(leMs(3), 2)}, 3, []uint64{0, 1, 1, 3}, 3},
		{"one high bucket", []rpc.LatencyBucket{lb(leMs(0), 0), lb(leMs(1), 0), lb(leMs(2), 0), lb(leMs(3), 0), lb(leMs(4), 5)}, 5, []uint64{0, 0, 0, 0, 5}, 5},
		{"count read before a bucket", []rpc.LatencyBucket{lb(leMs(0), 1), lb(leMs(1), 2)}, 2, []uint64{1, 3}, 3},
		{"count read after", []rpc.LatencyBucket{lb(leMs(0), 1)}, 4, []uint64{1}, 4},
		{"bound between two", []rpc.LatencyBucket{lb(0.003, 4)}, 4, []uint64{0, 0, 4}, 4},
		{"bound below the first", []rpc.LatencyBucket{lb(0.0001, 4)}, 4, []uint64{4}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, count := latencyBuckets(tt.snap, tt.count)
			if count != tt.wantCount {
				t.Errorf("count %d, want %d", count, tt.wantCount)
			}
			if len(got) != 27 {
				t.Fatalf("%d buckets", len(got))
			}
			for i, le := range latencyBounds {
				want := tt.want[min(i, len(tt.want)-1)]
				if got[le] != want {
					t.Errorf("le %v (bucket %d): %d, want %d", le, i, got[le], want)
				}
			}
		})
	}

	// Every bound rpc produces lands in its own bucket, float noise and all;
	// rpc's last bucket (2^27 µs: everything from 2^26 µs on) counts in
	// +Inf only.
	var snap []rpc.LatencyBucket
	for i := range 28 {
		snap = append(snap, lb(leMs(i), uint64(i+1)))
	}
	got, count := latencyBuckets(snap, 0)
	var cum uint64
	for i, le := range latencyBounds {
		cum += uint64(i + 1)
		if got[le] != cum {
			t.Errorf("le %v (bucket %d): %d, want %d", le, i, got[le], cum)
		}
	}
	if want := cum + 28; count != want {
		t.Errorf("count %d, want %d (overflow bucket in +Inf)", count, want)
	}
}

// TestErrorKinds checks that every field of rpc.ErrorCounts is a kind.
func TestErrorKinds(t *testing.T) {
	typ := reflect.TypeFor[rpc.ErrorCounts]()
	if len(errorKinds) != typ.NumField() {
		t.Fatalf("%d kinds for %d fields", len(errorKinds), typ.NumField())
	}
	seen := map[string]bool{}
	for _, k := range errorKinds {
		if seen[k.name] || strings.ContainsAny(k.name, ", ") || k.name == "" {
			t.Errorf("kind %q", k.name)
		}
		seen[k.name] = true
	}
	for _, k := range []string{"timeout", "rate_limited", "rpc", "late_results_dropped"} {
		if !seen[k] {
			t.Errorf("no kind %q", k)
		}
	}
}

// TestInvalidUTF8Labels: rpc takes any bytes as a pattern key (and as a
// transport's name), Prometheus only UTF-8 label values. Two such patterns
// used to fail every scrape with HTTP 500, the Go and process metrics too;
// now each gets a label of its own.
func TestInvalidUTF8Labels(t *testing.T) {
	srv := rpc.NewServer(nil, quietLogger)
	for _, p := range []string{"ok", "caf\xe9", "caf\xe8"} {
		srv.Handle(p, rpc.Func(func(json.RawMessage) (any, error) { return 1, nil }))
	}
	rec := httptest.NewRecorder()
	Handler(srv).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: HTTP %d: %s", rec.Code, clipBody(body))
	}
	for _, want := range []string{`pattern="\"caf\\xe9\""`, `pattern="\"caf\\xe8\""`, `pattern="ok"`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape has no %s", want)
		}
	}
}

func clipBody(s string) string { return s[:min(len(s), 300)] }
