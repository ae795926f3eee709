package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsCatalogDocumented freezes the metric names: the README's
// "Metrics and probes" section names every metric of the catalog, and no
// other barge_ metric.
func TestMetricsCatalogDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := readmeSection(string(readme), "### Metrics and probes")
	if section == "" {
		t.Fatal(`README has no "### Metrics and probes"`)
	}
	var names []string
	for _, m := range catalog() {
		names = append(names, m.name)
	}
	documented := regexp.MustCompile("`((?:barge|fluentd)_[a-z_]+)`").FindAllStringSubmatch(section, -1)
	seen := map[string]bool{}
	for _, m := range documented {
		seen[m[1]] = true
		if !slices.Contains(names, m[1]) {
			t.Errorf("README documents %s, which barge does not report", m[1])
		}
	}
	for _, name := range names {
		if !seen[name] {
			t.Errorf("README does not document %s", name)
		}
	}
}

// TestCollectorCoversCatalog builds (without running it) a pipeline of
// every kind of component, fluentd_compatible_metrics on, and gathers its
// metrics with a pedantic registry: every metric of the catalog is there,
// but those that wait for an event (an error, a tail reconcile), and each
// is consistent with its description.
func TestCollectorCoversCatalog(t *testing.T) {
	dir := t.TempDir()
	text := strings.ReplaceAll(`<system>
  fluentd_compatible_metrics true
</system>
<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<source>
  @type tail
  path DIR/logs/*.log
  pos_file DIR/tail.pos
  tag tailed
  <parse>
    @type none
  </parse>
</source>
<source>
  @type files
  @id in_files
  path DIR/data/*.csv
  tag data
  pos_file DIR/files.pos
  <parse>
    @type csv
  </parse>
</source>
<filter app.**>
  @type grep
  <exclude>
    key level
    pattern /^debug$/
  </exclude>
</filter>
<match app.file>
  @type file
  path DIR/out/
  <buffer>
    path DIR/buf/file
  </buffer>
</match>
<match app.s3>
  @type s3
  s3_bucket b
  s3_region us-east-1
  path logs/
  <buffer>
    path DIR/buf/s3
  </buffer>
</match>
<match app.fw>
  @type forward
  <server>
    name up1
    host 127.0.0.1
    port 24299
  </server>
  <buffer>
    path DIR/buf/fw
  </buffer>
</match>
<match app.**>
  @type gcs
  @id archive
  bucket my-logs
  path logs/%Y%m%d/${tag}/
  <format>
    @type json
    key_style bigquery
  </format>
  <inject>
    time_key time
    time_type string
    time_format %Y-%m-%dT%H:%M:%S.%6N%:z
    utc true
  </inject>
  <buffer tag,time>
    path DIR/buf/gcs
    timekey 1h
    timekey_use_utc true
  </buffer>
</match>
<loader bq>
  @type bigquery
  project p
  dataset logs
  table events
  partition_type HOUR
  partition_field time
  source_output archive
</loader>
`, "DIR", dir)
	path := filepath.Join(dir, "barge.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := loadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := build(p, loggers{base: discardHandler{}}, "host", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCollector(pl))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	later := []string{"barge_tail_bytes_behind", "barge_output_last_error_timestamp_seconds", "barge_loader_last_error_timestamp_seconds"}
	for _, m := range catalog() {
		if !got[m.name] && !slices.Contains(later, m.name) {
			t.Errorf("%s not reported", m.name)
		}
	}
	// Without fluentd_compatible_metrics, no fluentd_ name.
	pl.system.FluentdCompatibleMetrics = false
	reg = prometheus.NewPedanticRegistry()
	reg.MustRegister(newCollector(pl))
	if mfs, err = reg.Gather(); err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "fluentd_") {
			t.Errorf("%s reported without fluentd_compatible_metrics", mf.GetName())
		}
	}
}

// metricsConfig is a forward input, a file output and the HTTP listener on
// httpPort; outPath is the file output's path.
// A tail input follows ./logs/*.log (tagged app.tailed), and a grep filter
// drops the records of level debug.
// TestPprof: with <system> enable_pprof, the listener serves Go's
// profiles. The "stopped" line reports the peak RSS.
func TestPprof(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startBarge(t, dir, metricsConfig(port, "./out/", "enable_pprof true"))
	if code, body := get(t, port, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "allocs") {
		t.Fatalf("/debug/pprof/: %d %.200s", code, body)
	}
	if code, body := get(t, port, "/debug/pprof/heap?debug=1"); code != http.StatusOK || !strings.Contains(body, "heap profile") {
		t.Fatalf("/debug/pprof/heap: %d %.200s", code, body)
	}
	// The "stopped" line reports the run's peak RSS.
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if peak := p.PeakRSS(); peak < 4<<20 || peak > 1<<30 {
		t.Fatalf("peak_rss_bytes %d", peak)
	}
}

func metricsConfig(httpPort int, outPath, system string) string {
	return fmt.Sprintf(`<system>
  http_port %d
  %s
</system>
<source>
  @type forward
  @id in_fw
  bind 127.0.0.1
  port 0
</source>
<source>
  @type tail
  @id in_tail
  path ./logs/*.log
  pos_file ./tail.pos
  tag app.tailed
  <parse>
    @type none
  </parse>
</source>
<filter app.**>
  @type grep
  <exclude>
    key level
    pattern /^debug$/
  </exclude>
</filter>
<match app.**>
  @type file
  @id out_files
  path %s
  <buffer>
    @type file
    path ./buf
    flush_mode interval
    flush_interval 200ms
    retry_wait 100ms
  </buffer>
</match>
`, httpPort, system, outPath)
}

// get fetches path from the listener and returns the status and body.
func get(t *testing.T, port int, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrape reads /metrics as barge top does (readMetrics: the Prometheus
// text parser).
func scrape(t *testing.T, port int) map[string]*dto.MetricFamily {
	t.Helper()
	mf, err := readMetrics(http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// value returns the value of family name for the series labelled
// plugin_id=id, or -1 when there is none.
func value(mf map[string]*dto.MetricFamily, name, id string) float64 {
	for k, v := range seriesOf(mf, name) {
		if k[0] == id {
			return v
		}
	}
	return -1
}

func inGroup(group []metricDef, name string) bool {
	return slices.ContainsFunc(group, func(m metricDef) bool { return m.name == name })
}

// valueBy is value for the series whose label is lv too.
func valueBy(mf map[string]*dto.MetricFamily, name, id, label, lv string) float64 {
	for k, v := range seriesBy(mf, name, label) {
		if k[0] == id && k[2] == lv {
			return v
		}
	}
	return -1
}

// histogramCount is the sample count of family name's series of plugin_id id.
func histogramCount(mf map[string]*dto.MetricFamily, name, id string) uint64 {
	if f := mf[name]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "plugin_id" && l.GetValue() == id {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestMetricsAndProbes runs barge with the listener, sends records and
// reads /metrics as Prometheus would: every metric of the forward and tail
// inputs, of the router and of the output is there (fluentd_compatible_metrics
// on), and they move with the records.
func TestMetricsAndProbes(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte("before the start\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBarge(t, dir, metricsConfig(port, "./out/", "fluentd_compatible_metrics true"))
	// Ready once every input started: the forward input listens first.
	p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "barge started" })
	if code, body := get(t, port, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, port, "/readyz"); code != http.StatusOK || !strings.Contains(body, "output out_files (file): ok") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, _ := get(t, port, "/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/ without enable_pprof: %d, want 404", code)
	}
	bargetest.SendAcked(t, p.Addr, "app.m", 0, 300)
	bargetest.SendRecords(t, p.Addr, "app.m", 0, 7, func(i int) map[string]any { return map[string]any{"seq": i, "level": "debug"} })
	bargetest.SendAcked(t, p.Addr, "nowhere.m", 0, 5)
	bargetest.WaitRecords(t, filepath.Join(dir, "out"), 300, 30*time.Second)
	var mf map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		mf = scrape(t, port)
		if value(mf, "barge_output_records_total", "out_files") >= 300 && value(mf, "barge_tail_bytes_behind", "in_tail") >= 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("barge_output_records_total never reached 300, or barge_tail_bytes_behind never came")
		}
	}
	// Every metric of the inputs, the router and the output.
	for _, m := range catalog() {
		var id string
		switch {
		case inGroup(outputMetrics, m.name) && !strings.HasPrefix(m.help, "forward output:") && !strings.HasPrefix(m.help, "s3 and gcs:"),
			inGroup(fluentdMetrics, m.name):
			id = "out_files"
		case strings.HasPrefix(m.name, "barge_tail_"):
			id = "in_tail"
		case inGroup(inputMetrics, m.name) && !strings.HasPrefix(m.name, "barge_files_"):
			id = "in_fw"
		case m.name == droppedMetric.name:
			id = "router"
		}
		if id == "" || m.name == "barge_output_last_error_timestamp_seconds" {
			continue
		}
		if m.kind == histogram {
			if mf[m.name] == nil {
				t.Errorf("%s missing", m.name)
			}
		} else if value(mf, m.name, id) < 0 {
			t.Errorf("%s{plugin_id=%s} missing", m.name, id)
		}
	}
	for _, name := range []string{"barge_build_info", "barge_config_reloads_total", "barge_config_last_reload_successful", "barge_config_last_reload_success_timestamp_seconds"} {
		if mf[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	for _, c := range []struct {
		name, id string
		want     float64
	}{
		{"barge_input_records_total", "in_fw", 312},
		{"barge_buffer_records_total", "out_files", 300},
		{"barge_output_records_total", "out_files", 300},
		{"fluentd_output_status_emit_records", "out_files", 300},
		{"fluentd_output_status_buffer_available_space_ratio", "out_files", 100},
		{"barge_tail_files", "in_tail", 1},
		{"barge_tail_bytes_behind", "in_tail", 0}, // read from its end at the first start
	} {
		if got := value(mf, c.name, c.id); got != c.want {
			t.Errorf("%s{plugin_id=%s} = %v, want %v", c.name, c.id, got, c.want)
		}
	}
	for reason, want := range map[string]float64{"unmatched": 5, "filtered": 7} {
		if got := valueBy(mf, "barge_records_dropped_total", "router", "reason", reason); got != want {
			t.Errorf("barge_records_dropped_total{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := valueBy(mf, "barge_tail_bytes_behind", "in_tail", "path", filepath.Join("logs", "a.log")); got < 0 {
		if got = valueBy(mf, "barge_tail_bytes_behind", "in_tail", "path", "./logs/a.log"); got < 0 {
			t.Errorf("barge_tail_bytes_behind has no series of logs/a.log: %v", seriesBy(mf, "barge_tail_bytes_behind", "path"))
		}
	}
	if got := value(mf, "barge_output_bytes_total", "out_files"); got <= 0 {
		t.Errorf("barge_output_bytes_total = %v", got)
	}
	if n := histogramCount(mf, "barge_output_flush_duration_seconds", "out_files"); n < 1 {
		t.Errorf("barge_output_flush_duration_seconds count = %d", n)
	}
	if got := value(mf, "fluentd_output_status_write_count", "out_files"); got < 1 {
		t.Errorf("fluentd_output_status_write_count = %v", got)
	}
	if got := value(mf, "barge_output_last_flush_timestamp_seconds", "out_files"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("barge_output_last_flush_timestamp_seconds = %v, not a recent time", got)
	}
	if got := value(mf, "barge_output_stalled", "out_files"); got != 0 {
		t.Errorf("barge_output_stalled = %v", got)
	}
	if mf["barge_build_info"] == nil || mf["go_goroutines"] == nil || mf["process_resident_memory_bytes"] == nil {
		t.Error("barge_build_info, go_goroutines or process_resident_memory_bytes missing")
	}
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestStalledOutput: an output that cannot write (its path is under a
// regular file) keeps its chunk queued; after stall_timeout /readyz says
// it is stalled (still 200: readiness is not the place to restart it) and
// barge_output_stalled is 1.
func TestStalledOutput(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	p := startBarge(t, dir, metricsConfig(port, "./blocker/out/", "stall_timeout 1s"))
	p.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "barge started" })
	bargetest.SendAcked(t, p.Addr, "app.s", 0, 10)
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		code, body := get(t, port, "/readyz")
		if code != http.StatusOK {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		if strings.Contains(body, "output out_files (file): stalled: 1 chunk queued, last flush never") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never reported the stall:\n%s", body)
		}
	}
	mf := scrape(t, port)
	if got := value(mf, "barge_output_stalled", "out_files"); got != 1 {
		t.Errorf("barge_output_stalled = %v, want 1", got)
	}
	if got := value(mf, "barge_output_retries_total", "out_files"); got < 1 {
		t.Errorf("barge_output_retries_total = %v, want at least 1", got)
	}
	if got := value(mf, "barge_output_last_error_timestamp_seconds", "out_files"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("barge_output_last_error_timestamp_seconds = %v, not a recent time", got)
	}
	if e := labelOf(mf, "barge_output_last_error_timestamp_seconds", "out_files", "error"); !strings.Contains(e, "blocker") {
		t.Errorf("barge_output_last_error_timestamp_seconds{error=%q}: not the write error", e)
	}
	p.Kill9() // its chunk stays on disk: nothing to wait for
}
