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
	var catalog []string
	for _, m := range append(append([]metricDef{buildInfo}, inputMetrics...), outputMetrics...) {
		catalog = append(catalog, m.name)
	}
	documented := regexp.MustCompile("`(barge_[a-z_]+)`").FindAllStringSubmatch(section, -1)
	seen := map[string]bool{}
	for _, m := range documented {
		seen[m[1]] = true
		if !slices.Contains(catalog, m[1]) {
			t.Errorf("README documents %s, which barge does not report", m[1])
		}
	}
	for _, name := range catalog {
		if !seen[name] {
			t.Errorf("README does not document %s", name)
		}
	}
}

// metricsConfig is a forward input, a file output and the HTTP listener on
// httpPort; outPath is the file output's path.
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

// TestMetricsAndProbes runs barge with the listener, sends records and
// reads /metrics as Prometheus would: every metric of the forward input
// and of the output is there, and they move with the records.
func TestMetricsAndProbes(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	p := startBarge(t, dir, metricsConfig(port, "./out/", ""))
	if code, body := get(t, port, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, port, "/readyz"); code != http.StatusOK || !strings.Contains(body, "output out_files (file): ok") {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	bargetest.SendAcked(t, p.Addr, "app.m", 0, 300)
	bargetest.WaitRecords(t, filepath.Join(dir, "out"), 300, 30*time.Second)
	var mf map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; ; <-tick.C {
		mf = scrape(t, port)
		if value(mf, "barge_output_flushed_chunks_total", "out_files") >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("barge_output_flushed_chunks_total never moved")
		}
	}
	for _, m := range inputMetrics {
		if strings.HasPrefix(m.name, "barge_input_") || strings.HasPrefix(m.name, "barge_forward_") {
			if value(mf, m.name, "in_fw") < 0 {
				t.Errorf("%s{plugin_id=in_fw} missing", m.name)
			}
		}
	}
	for _, m := range outputMetrics {
		if value(mf, m.name, "out_files") < 0 {
			t.Errorf("%s{plugin_id=out_files} missing", m.name)
		}
	}
	for name, want := range map[string]float64{"barge_input_records_total": 300} {
		if got := value(mf, name, "in_fw"); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := value(mf, "barge_buffer_records_total", "out_files"); got != 300 {
		t.Errorf("barge_buffer_records_total = %v, want 300", got)
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
	p.Kill9() // its chunk stays on disk: nothing to wait for
}
