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

// renderTop draws one screen from a reading (and the one before, for the
// rates), with tview's color tags.
func renderTop(cur, prev map[string]*dto.MetricFamily, d time.Duration, problem string) string {
	var b strings.Builder
	if v := cur["barge_build_info"]; v != nil && len(v.Metric) > 0 {
		for _, l := range v.Metric[0].Label {
			if l.GetName() == "version" {
				fmt.Fprintf(&b, "barge %s", l.GetValue())
			}
		}
	}
	if problem != "" {
		fmt.Fprintf(&b, "   [red]%s[-]", tview.Escape(problem))
	}
	b.WriteString("\n\n[::b]INPUTS[::-]\n")
	fmt.Fprintf(&b, "%-24s %-8s %12s %12s %10s %8s\n", "plugin_id", "type", "records/s", "bytes/s", "errors", "files")
	in := seriesOf(cur, "barge_input_records_total")
	var pin series
	var pbytes series
	if prev != nil {
		pin, pbytes = seriesOf(prev, "barge_input_records_total"), seriesOf(prev, "barge_input_bytes_total")
	}
	bytes := seriesOf(cur, "barge_input_bytes_total")
	errs := seriesOf(cur, "barge_input_errors_total")
	files := seriesOf(cur, "barge_tail_files")
	for _, k := range sortedKeys(in) {
		f := ""
		if v, ok := files[k]; ok {
			f = fmt.Sprintf("%.0f", v)
		}
		fmt.Fprintf(&b, "%-24s %-8s %12.0f %12s %10.0f %8s\n", cut(k[0], 24), k[1], rate(in, pin, k, d),
			humanBytes(rate(bytes, pbytes, k, d)), errs[k], f)
	}
	b.WriteString("\n[::b]OUTPUTS[::-]\n")
	fmt.Fprintf(&b, "%-24s %-8s %12s %-22s %7s %8s %7s %12s\n", "plugin_id", "type", "records/s", "buffer", "queued", "retries", "failed", "last flush")
	recs := seriesOf(cur, "barge_buffer_records_total")
	var precs series
	if prev != nil {
		precs = seriesOf(prev, "barge_buffer_records_total")
	}
	usage := seriesOf(cur, "barge_buffer_usage_ratio")
	queued := seriesOf(cur, "barge_buffer_queued_chunks")
	retries := seriesOf(cur, "barge_output_retries_total")
	failed := seriesOf(cur, "barge_output_failed_chunks_total")
	last := seriesOf(cur, "barge_output_last_flush_timestamp_seconds")
	stalled := seriesOf(cur, "barge_output_stalled")
	now := time.Now()
	for _, k := range sortedKeys(recs) {
		since := "never"
		if t := last[k]; t > 0 {
			since = now.Sub(time.Unix(0, int64(t*1e9))).Round(time.Second).String() + " ago"
		}
		if stalled[k] == 1 {
			since = "[red]STALLED " + since + "[-]"
		}
		fmt.Fprintf(&b, "%-24s %-8s %12.0f %-22s %7.0f %8.0f %7.0f %12s\n", cut(k[0], 24), k[1], rate(recs, precs, k, d),
			bar(usage[k], 14), queued[k], retries[k], failed[k], since)
	}
	b.WriteString("\n[::d]loader jobs and budget: not in /metrics yet[::-]\n")
	return b.String()
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
