package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gdamore/tcell/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rivo/tview"
)

// cmdTop is `barge top`: a live view of a running barge, read from its
// /metrics (<system> http_port), in the terminal (tview).
func cmdTop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("top", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:24231", "the `host:port` of barge's <system> http_bind and http_port")
	interval := fs.Duration("interval", time.Second, "time between two readings of /metrics")
	if helpFlag(args, "top", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *interval <= 0 {
		fmt.Fprintln(stderr, "usage: barge top [--addr HOST:PORT] [--interval 1s]")
		return 2
	}
	url := "http://" + *addr + "/metrics"
	client := &http.Client{Timeout: 5 * time.Second}
	first, err := readMetrics(client, url)
	if err != nil {
		fmt.Fprintf(stderr, "barge top: %v (is <system> http_port set?)\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	app := tview.NewApplication()
	view := tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	view.SetBorder(true).SetTitle(" barge top " + *addr + " (q: quit) ")
	app.SetRoot(view, true)
	app.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == tcell.KeyCtrlC || ev.Key() == tcell.KeyEscape || ev.Rune() == 'q' {
			app.Stop()
			return nil
		}
		return ev
	})
	go func() {
		prev, prevAt := first, time.Now()
		view.SetText(renderTop(prev, nil, 0, ""))
		t := time.NewTicker(*interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				app.Stop()
				return
			case <-t.C:
			}
			cur, err := readMetrics(client, url)
			now := time.Now()
			var text string
			if err != nil {
				text = renderTop(prev, nil, 0, err.Error())
			} else {
				text = renderTop(cur, prev, now.Sub(prevAt), "")
				prev, prevAt = cur, now
			}
			app.QueueUpdateDraw(func() { view.SetText(text) })
		}
	}()
	if err := app.Run(); err != nil {
		fmt.Fprintf(stderr, "barge top: %v\n", err)
		return 1
	}
	return 0
}

// readMetrics reads and parses /metrics.
func readMetrics(c *http.Client, url string) (map[string]*dto.MetricFamily, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return mf, nil
}

// series are the values of one family by (plugin_id, type).
type series map[[2]string]float64

func seriesOf(mf map[string]*dto.MetricFamily, name string) series {
	out := series{}
	f := mf[name]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		var id, typ string
		for _, l := range m.Label {
			switch l.GetName() {
			case "plugin_id":
				id = l.GetValue()
			case "type":
				typ = l.GetValue()
			}
		}
		v := m.GetGauge().GetValue()
		if m.Counter != nil {
			v = m.Counter.GetValue()
		}
		out[[2]string{id, typ}] = v
	}
	return out
}

// seriesBy are the values of one family by (plugin_id, type, the value of
// label).
func seriesBy(mf map[string]*dto.MetricFamily, name, label string) map[[3]string]float64 {
	out := map[[3]string]float64{}
	f := mf[name]
	if f == nil {
		return out
	}
	for _, m := range f.Metric {
		var k [3]string
		for _, l := range m.Label {
			switch l.GetName() {
			case "plugin_id":
				k[0] = l.GetValue()
			case "type":
				k[1] = l.GetValue()
			case label:
				k[2] = l.GetValue()
			}
		}
		v := m.GetGauge().GetValue()
		if m.Counter != nil {
			v = m.Counter.GetValue()
		}
		out[k] = v
	}
	return out
}

// sums adds a labelled family's values up by (plugin_id, type).
func sums(mf map[string]*dto.MetricFamily, name, label string) series {
	out := series{}
	for k, v := range seriesBy(mf, name, label) {
		out[[2]string{k[0], k[1]}] += v
	}
	return out
}

// labelOf returns the value of label of family name's first series of
// plugin_id id, or "".
func labelOf(mf map[string]*dto.MetricFamily, name, id, label string) string {
	for k := range seriesBy(mf, name, label) {
		if k[0] == id {
			return k[2]
		}
	}
	return ""
}

// rate is the per-second change of a counter between two readings (0
// without a previous one, or when it went back: barge restarted).
func rate(cur, prev series, k [2]string, d time.Duration) float64 {
	if prev == nil || d <= 0 {
		return 0
	}
	delta := cur[k] - prev[k]
	if delta < 0 {
		return 0
	}
	return delta / d.Seconds()
}

// reading is one /metrics reading and the one before, for the rates.
type reading struct {
	cur, prev map[string]*dto.MetricFamily
	d         time.Duration
	now       time.Time
}

// rateOf is the per-second change of counter name for k.
func (r reading) rateOf(name string, k [2]string) float64 {
	if r.prev == nil {
		return 0
	}
	return rate(seriesOf(r.cur, name), seriesOf(r.prev, name), k, r.d)
}

// lastError is "AGO ago: ERROR" from a timestamp gauge with an error
// label, cut to width; "" when there is none.
func (r reading) lastError(name string, k [2]string, width int) string {
	for sk, t := range seriesBy(r.cur, name, "error") {
		if sk[0] != k[0] || sk[1] != k[1] || t <= 0 {
			continue
		}
		ago := r.now.Sub(time.Unix(0, int64(t*1e9))).Round(time.Second)
		return tview.Escape(cut(ago.String()+" ago: "+sk[2], width))
	}
	return ""
}

// renderTop draws one screen from a reading (and the one before, for the
// rates), with tview's color tags.
func renderTop(cur, prev map[string]*dto.MetricFamily, d time.Duration, problem string) string {
	r := reading{cur: cur, prev: prev, d: d, now: time.Now()}
	var b strings.Builder
	if v := cur["barge_build_info"]; v != nil && len(v.Metric) > 0 {
		for _, l := range v.Metric[0].Label {
			if l.GetName() == "version" {
				fmt.Fprintf(&b, "barge %s", l.GetValue())
			}
		}
	}
	if rl := seriesBy(cur, "barge_config_reloads_total", "result"); len(rl) > 0 {
		fmt.Fprintf(&b, "   reloads: %.0f ok, %.0f failed", rl[[3]string{"", "", "ok"}], rl[[3]string{"", "", "failed"}])
		if ok := cur["barge_config_last_reload_successful"]; ok != nil && len(ok.Metric) > 0 && ok.Metric[0].GetGauge().GetValue() == 0 {
			b.WriteString(" [red](the last one refused)[-]")
		}
	}
	if problem != "" {
		fmt.Fprintf(&b, "   [red]%s[-]", tview.Escape(problem))
	}
	renderInputs(&b, r)
	renderOutputs(&b, r)
	renderLoaders(&b, r)
	return b.String()
}

func renderInputs(b *strings.Builder, r reading) {
	b.WriteString("\n\n[::b]INPUTS[::-]\n")
	fmt.Fprintf(b, "%-24s %-8s %10s %10s %8s %8s %6s %10s\n", "plugin_id", "type", "records/s", "bytes/s", "errors", "dropped", "files", "behind")
	in := seriesOf(r.cur, "barge_input_records_total")
	errs := seriesOf(r.cur, "barge_input_errors_total")
	dropped := sums(r.cur, "barge_records_dropped_total", "reason")
	files := seriesOf(r.cur, "barge_tail_files")
	behind := sums(r.cur, "barge_tail_bytes_behind", "path")
	for _, k := range sortedKeys(in) {
		f, lag := "", ""
		if v, ok := files[k]; ok {
			f, lag = fmt.Sprintf("%.0f", v), humanBytes(behind[k])
		}
		fmt.Fprintf(b, "%-24s %-8s %10.0f %10s %8.0f %8.0f %6s %10s\n", cut(k[0], 24), k[1], r.rateOf("barge_input_records_total", k),
			humanBytes(r.rateOf("barge_input_bytes_total", k)), errs[k], dropped[k], f, lag)
	}
	if rt := seriesBy(r.cur, "barge_records_dropped_total", "reason"); len(rt) > 0 {
		fmt.Fprintf(b, "router: %.0f records matched no <match>, %.0f dropped by filters\n",
			rt[[3]string{"router", "router", "unmatched"}], rt[[3]string{"router", "router", "filtered"}])
	}
}

func renderOutputs(b *strings.Builder, r reading) {
	b.WriteString("\n[::b]OUTPUTS[::-]\n")
	fmt.Fprintf(b, "%-24s %-8s %10s %10s %-22s %6s %7s %6s %12s  %s\n", "plugin_id", "type", "records/s", "bytes/s", "buffer", "queued", "retries", "failed", "last flush", "last error")
	recs := seriesOf(r.cur, "barge_output_records_total")
	usage := seriesOf(r.cur, "barge_buffer_usage_ratio")
	queued := seriesOf(r.cur, "barge_buffer_queued_chunks")
	retries := seriesOf(r.cur, "barge_output_retries_total")
	failed := seriesOf(r.cur, "barge_output_failed_chunks_total")
	last := seriesOf(r.cur, "barge_output_last_flush_timestamp_seconds")
	stalled := seriesOf(r.cur, "barge_output_stalled")
	for _, k := range sortedKeys(recs) {
		since := "never"
		if t := last[k]; t > 0 {
			since = r.now.Sub(time.Unix(0, int64(t*1e9))).Round(time.Second).String() + " ago"
		}
		if stalled[k] == 1 {
			since = "[red]STALLED " + since + "[-]"
		}
		lastErr := r.lastError("barge_output_last_error_timestamp_seconds", k, 40)
		if lastErr != "" {
			lastErr = "[yellow]" + lastErr + "[-]"
		}
		fmt.Fprintf(b, "%-24s %-8s %10.0f %10s %-22s %6.0f %7.0f %6.0f %12s  %s\n", cut(k[0], 24), k[1], r.rateOf("barge_output_records_total", k),
			humanBytes(r.rateOf("barge_output_bytes_total", k)), bar(usage[k], 14), queued[k], retries[k], failed[k], since, lastErr)
	}
}

func renderLoaders(b *strings.Builder, r reading) {
	jobs := seriesBy(r.cur, "barge_loader_jobs_total", "state")
	if len(jobs) == 0 {
		return
	}
	b.WriteString("\n[::b]LOADERS[::-]\n")
	fmt.Fprintf(b, "%-24s %-8s %9s %7s %11s %12s %10s %13s  %s\n", "plugin_id", "type", "committed", "failed", "unsubmitted", "rows", "rows/s", "budget left", "last error")
	rows := seriesOf(r.cur, "barge_loader_rows_total")
	budget := seriesOf(r.cur, "barge_loader_budget_jobs")
	left := seriesOf(r.cur, "barge_loader_budget_jobs_left")
	for _, k := range sortedKeys(rows) {
		job := func(state string) float64 { return jobs[[3]string{k[0], k[1], state}] }
		lastErr := r.lastError("barge_loader_last_error_timestamp_seconds", k, 40)
		if lastErr != "" {
			lastErr = "[yellow]" + lastErr + "[-]"
		}
		fmt.Fprintf(b, "%-24s %-8s %9.0f %7.0f %11.0f %12.0f %10.0f %13s  %s\n", cut(k[0], 24), k[1], job("committed"), job("failed"), job("unsubmitted"),
			rows[k], r.rateOf("barge_loader_rows_total", k), fmt.Sprintf("%.0f/%.0f", left[k], budget[k]), lastErr)
	}
}

// bar draws a fill ratio as [#####.....] 42%.
func bar(ratio float64, width int) string {
	ratio = min(max(ratio, 0), 1)
	n := int(ratio*float64(width) + 0.5)
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), ratio*100)
}

func humanBytes(v float64) string {
	switch {
	case v >= 1<<30:
		return fmt.Sprintf("%.1f GiB", v/(1<<30))
	case v >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10:
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%.0f B", v)
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}

func sortedKeys(s series) [][2]string {
	keys := make([][2]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) })
	return keys
}
