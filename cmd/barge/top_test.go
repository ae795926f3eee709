package main

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestTopInTmux drives `barge top` in a real terminal (a detached tmux
// session of 160x40) against a running barge: its screen shows the
// forward input and the file output by their @id, the input's records/s
// while records flow, the output's buffer bar; q quits it.
func TestTopInTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("tmux is not installed; TestTopInTmux drives barge top in it: install it (apt-get install tmux; .ci/run does): %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	p := startBarge(t, dir, metricsConfig(port, "./out/", ""))
	session := fmt.Sprintf("barge-top-%d", port)
	sock := "-L" + session // a server of its own
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cmd := fmt.Sprintf("%s top --addr 127.0.0.1:%d --interval 200ms; echo barge-top-exit=$?; sleep 60", bargeBin, port)
	run("new-session", "-d", "-s", session, "-x", "160", "-y", "40", cmd)
	t.Cleanup(func() { exec.Command(tmux, sock, "kill-server").Run() })

	screen := func() string { return run("capture-pane", "-p", "-t", session) }
	waitScreen := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			s := screen()
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("the screen never showed %s:\n%s", what, s)
			}
			<-tick.C
		}
	}
	waitScreen("the input and the output", func(s string) bool {
		return strings.Contains(s, "in_fw") && strings.Contains(s, "out_files") && strings.Contains(s, "barge top")
	})
	// Records flowing: the input's records/s is above 0 on some screen.
	inputRate := regexp.MustCompile(`in_fw\s+forward\s+(\d+)`)
	var s string
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i += 200 {
		bargetest.SendAcked(t, p.Addr, "app.top", i, i+200)
		s = screen()
		if m := inputRate.FindStringSubmatch(s); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("records/s of in_fw never above 0:\n%s", s)
		}
	}
	if !regexp.MustCompile(`out_files\s+file\s+\d+\s+[\d.]+ [KMG]?i?B\s+\[[#.]{14}\]\s+\d+%`).MatchString(s) {
		t.Errorf("no bytes/s and buffer bar for out_files:\n%s", s)
	}
	if !regexp.MustCompile(`in_tail\s+tail\s+`).MatchString(s) || !strings.Contains(s, "router: ") {
		t.Errorf("no tail input or router line:\n%s", s)
	}
	run("send-keys", "-t", session, "q")
	waitScreen("barge top's exit", func(s string) bool { return strings.Contains(s, "barge-top-exit=0") })
	if code := p.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestTopRender draws a screen from a metrics text (two readings a second
// apart): the outputs' bytes/s and last error, and the loader section with
// its jobs by state, rows, rows/s and budget left.
func TestTopRender(t *testing.T) {
	now := time.Now()
	text := func(rows, bytes int) string {
		return fmt.Sprintf(`# TYPE barge_build_info gauge
barge_build_info{version="v1.2.3"} 1
# TYPE barge_config_reloads_total counter
barge_config_reloads_total{result="ok"} 2
barge_config_reloads_total{result="failed"} 1
# TYPE barge_config_last_reload_successful gauge
barge_config_last_reload_successful 0
# TYPE barge_output_records_total counter
barge_output_records_total{plugin_id="archive",type="gcs"} %d
# TYPE barge_output_bytes_total counter
barge_output_bytes_total{plugin_id="archive",type="gcs"} %d
# TYPE barge_buffer_usage_ratio gauge
barge_buffer_usage_ratio{plugin_id="archive",type="gcs"} 0.5
# TYPE barge_output_last_error_timestamp_seconds gauge
barge_output_last_error_timestamp_seconds{error="put gs://b/k: 503 Service Unavailable",plugin_id="archive",type="gcs"} %d
# TYPE barge_loader_jobs_total counter
barge_loader_jobs_total{plugin_id="bq",state="committed",type="bigquery"} 12
barge_loader_jobs_total{plugin_id="bq",state="failed",type="bigquery"} 1
barge_loader_jobs_total{plugin_id="bq",state="unsubmitted",type="bigquery"} 0
# TYPE barge_loader_rows_total counter
barge_loader_rows_total{plugin_id="bq",type="bigquery"} %d
# TYPE barge_loader_budget_jobs gauge
barge_loader_budget_jobs{plugin_id="bq",type="bigquery"} 1000
# TYPE barge_loader_budget_jobs_left gauge
barge_loader_budget_jobs_left{plugin_id="bq",type="bigquery"} 988
`, rows, bytes, now.Add(-5*time.Second).Unix(), rows*10)
	}
	parse := func(s string) map[string]*dto.MetricFamily {
		p := expfmt.NewTextParser(model.UTF8Validation)
		mf, err := p.TextToMetricFamilies(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		return mf
	}
	screen := renderTop(parse(text(1100, 4096)), parse(text(100, 2048)), time.Second, "")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`barge v1\.2\.3\s+reloads: 2 ok, 1 failed`),
		regexp.MustCompile(`archive\s+gcs\s+1000\s+2\.0 KiB\s+\[#######\.{7}\]\s+50%`),
		regexp.MustCompile(`\d+s ago: put gs://b/k: 503 Service Unava`),
		regexp.MustCompile(`LOADERS`),
		regexp.MustCompile(`bq\s+bigquery\s+12\s+1\s+0\s+11000\s+10000\s+988/1000`),
	} {
		if !want.MatchString(screen) {
			t.Errorf("screen does not match %s:\n%s", want, screen)
		}
	}
	if strings.Contains(renderTop(parse("# TYPE barge_build_info gauge\nbarge_build_info{version=\"v\"} 1\n"), nil, 0, ""), "LOADERS") {
		t.Error("a loader section without loaders")
	}
}
