package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	goruntime "runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder/route"
)

// metricDef is one of barge's own metrics. The catalog below is the whole
// list: the README documents each (TestMetricsCatalogDocumented), and a
// component's row reports values only under these names.
type metricDef struct {
	name   string
	help   string
	kind   metricKind
	labels []string // plugin ones start with plugin_id and type
}

type metricKind int

const (
	counter metricKind = iota
	gauge
	histogram
)

// plugin is the labels of a plugin's metric: plugin_id, type, then extra.
func plugin(extra ...string) []string { return append([]string{"plugin_id", "type"}, extra...) }

// inputMetrics are reported per <source>, labelled plugin_id and type.
var inputMetrics = []metricDef{
	{"barge_input_records_total", "Records the input appended to the buffers (or dropped by filters or routing).", counter, plugin()},
	{"barge_input_bytes_total", "Bytes the input took in: forward frames, tailed lines, data files shipped whole.", counter, plugin()},
	{"barge_input_errors_total", "The input's errors: forward connections closed for bad input, stalls and failed handshakes; tail and files read, append and position errors.", counter, plugin()},
	{"barge_input_invalid_total", "Bad input by reason: forward messages refused (the connection closed) as malformed, oversize, bad_tag or too_deep; tail lines that did not parse (unparsed, kept as unmatched records).", counter, plugin("reason")},
	{"barge_forward_connections", "Forward connections open now.", gauge, plugin()},
	{"barge_forward_handshake_failures_total", "Failed <security> and TLS handshakes.", counter, plugin()},
	{"barge_tail_files", "Files followed now, rotated ones still read included.", gauge, plugin()},
	{"barge_tail_bytes_behind", "Bytes of a followed file past its committed position, per path followed now (as of the last reconcile, each second).", gauge, plugin("path")},
	{"barge_files_shipped_total", "Data file versions shipped whole.", counter, plugin()},
	{"barge_files_failed_total", "Bad data files (reported, moved to error_dir or remembered).", counter, plugin()},
}

// droppedMetric is reported by inputs, by the router and by outputs.
var droppedMetric = metricDef{"barge_records_dropped_total",
	"Records that will not reach their output, by reason: invalid (forward, skip_invalid_event), too_long (tail, over max_line_size), unmatched and filtered (router), rejected and failed (output: set aside in failed/ or the secondary, lost with a memory buffer).",
	counter, plugin("reason")}

// outputMetrics are reported per <match> (its buffer and output),
// labelled plugin_id and type.
var outputMetrics = []metricDef{
	{"barge_buffer_staged_chunks", "Chunks being filled.", gauge, plugin()},
	{"barge_buffer_staged_bytes", "Bytes of entries in the chunks being filled.", gauge, plugin()},
	{"barge_buffer_queued_chunks", "Chunks queued for the output or being flushed.", gauge, plugin()},
	{"barge_buffer_queued_bytes", "Bytes of entries in the chunks queued or being flushed.", gauge, plugin()},
	{"barge_buffer_usage_ratio", "Staged and queued bytes over total_limit_size.", gauge, plugin()},
	{"barge_buffer_records_total", "Records appended to the buffer.", counter, plugin()},
	{"barge_output_records_total", "Records the output took (flushed; records it rejected not included).", counter, plugin()},
	{"barge_output_bytes_total", "Bytes of entries (msgpack) of the chunks the output flushed.", counter, plugin()},
	{"barge_output_flushed_chunks_total", "Chunks the output flushed (then deleted from the buffer).", counter, plugin()},
	{"barge_output_flush_duration_seconds", "Duration of each flush of a chunk to the output, failed ones included.", histogram, plugin()},
	{"barge_output_retries_total", "Failed flushes that will be retried.", counter, plugin()},
	{"barge_output_failed_chunks_total", "Chunks set aside: moved to failed/ after their retries or a permanent error, or dropped (memory buffer, drop_oldest_chunk).", counter, plugin()},
	{"barge_output_last_flush_timestamp_seconds", "Unix time of the output's last successful flush (0: none yet).", gauge, plugin()},
	{"barge_output_last_error_timestamp_seconds", "Unix time of the output's last failed flush, its error (at most 200 bytes) as the label error; absent before any.", gauge, plugin("error")},
	{"barge_output_stalled", "1 while chunks are queued and no flush succeeded for stall_timeout.", gauge, plugin()},
	{"barge_output_upload_duration_seconds", "s3 and gcs: duration of each object's upload, from its encoding to its completion, its client's retries included.", histogram, plugin()},
	{"barge_forward_output_acks_total", "forward output: acks received.", counter, plugin()},
	{"barge_forward_output_ack_timeouts_total", "forward output: messages whose ack did not come within ack_response_timeout; each is sent again, maybe a duplicate.", counter, plugin()},
	{"barge_forward_output_errors_total", "forward output: failed flushes (connect, handshake, write or ack errors).", counter, plugin()},
	{"barge_forward_output_connections_total", "forward output: connections made (TCP, then TLS and <security> handshakes).", counter, plugin()},
	{"barge_forward_output_handshake_failures_total", "forward output: TLS and <security> handshakes that failed.", counter, plugin()},
	{"barge_forward_output_server_up", "forward output: 1 while the server is available, 0 while marked down (failed send or heartbeats).", gauge, plugin("server")},
	{"barge_forward_output_idle_connections", "forward output: connections to the server kept open for the next flush (keepalive).", gauge, plugin("server")},
}

// loaderMetrics are reported per <loader>, labelled plugin_id (its name)
// and type.
var loaderMetrics = []metricDef{
	{"barge_loader_jobs_total", "Load jobs by state: committed, failed, unsubmitted (not taken by BigQuery at insert; the claim is tried again).", counter, plugin("state")},
	{"barge_loader_objects_total", "Archived objects committed to the table.", counter, plugin()},
	{"barge_loader_rows_total", "Rows committed, as BigQuery reported them.", counter, plugin()},
	{"barge_loader_deferred_partitions_total", "Partitions left for a later cycle by the job budget.", counter, plugin()},
	{"barge_loader_budget_jobs", "max_jobs_per_table_per_day.", gauge, plugin()},
	{"barge_loader_budget_jobs_left", "Jobs left in today's (UTC) budget, as of the loader's last claim.", gauge, plugin()},
	{"barge_loader_last_error_timestamp_seconds", "Unix time of the loader's last failure, its error (at most 200 bytes) as the label error; absent before any.", gauge, plugin("error")},
}

// processMetrics are barge's own, not a plugin's.
var processMetrics = []metricDef{
	{"barge_build_info", "barge's version, as a label; the value is 1.", gauge, []string{"version"}},
	{"barge_config_reloads_total", "Config reloads by result: ok (took effect) or failed (refused; the running config stays).", counter, []string{"result"}},
	{"barge_config_last_reload_successful", "1 when the last reload took effect (or none was asked), 0 when it was refused.", gauge, nil},
	{"barge_config_last_reload_success_timestamp_seconds", "Unix time of the last successful load of the config: the start, then each reload that took effect.", gauge, nil},
}

// fluentdMetrics are fluent-plugin-prometheus's prometheus_output_monitor
// gauges, reported per <match> with <system> fluentd_compatible_metrics.
var fluentdMetrics = []metricDef{
	{"fluentd_output_status_buffer_total_bytes", "Current total size of stage and queue buffers.", gauge, plugin()},
	{"fluentd_output_status_buffer_stage_length", "Current length of stage buffers.", gauge, plugin()},
	{"fluentd_output_status_buffer_stage_byte_size", "Current total size of stage buffers.", gauge, plugin()},
	{"fluentd_output_status_buffer_queue_length", "Current length of queue buffers.", gauge, plugin()},
	{"fluentd_output_status_buffer_queue_byte_size", "Current total size of queue buffers.", gauge, plugin()},
	{"fluentd_output_status_buffer_available_space_ratio", "Ratio of available space in buffer.", gauge, plugin()},
	{"fluentd_output_status_retry_count", "Current retry counts.", gauge, plugin()},
	{"fluentd_output_status_num_errors", "Current number of errors.", gauge, plugin()},
	{"fluentd_output_status_emit_count", "Current emit counts.", gauge, plugin()},
	{"fluentd_output_status_emit_records", "Current emit records.", gauge, plugin()},
	{"fluentd_output_status_write_count", "Current write counts.", gauge, plugin()},
	{"fluentd_output_status_rollback_count", "Current rollback counts.", gauge, plugin()},
	{"fluentd_output_status_flush_time_count", "Total flush time.", gauge, plugin()},
	{"fluentd_output_status_slow_flush_count", "Current slow flush counts.", gauge, plugin()},
}

// slowFlush is Fluentd's default slow_flush_log_threshold, for
// fluentd_output_status_slow_flush_count (a bound of the flush histogram).
const slowFlush = 20 * time.Second

// catalog is every metric barge reports.
func catalog() []metricDef {
	var all []metricDef
	for _, g := range [][]metricDef{processMetrics, inputMetrics, {droppedMetric}, outputMetrics, loaderMetrics, fluentdMetrics} {
		all = append(all, g...)
	}
	return all
}

// collector reports the catalog's metrics from the components' counters
// at each scrape: nothing is counted twice, and the data path pays at
// most an atomic add.
type collector struct {
	pl    *pipeline
	defs  map[string]metricDef
	descs map[string]*prometheus.Desc
	now   func() time.Time
}

func newCollector(pl *pipeline) *collector {
	c := &collector{pl: pl, defs: map[string]metricDef{}, descs: map[string]*prometheus.Desc{}, now: time.Now}
	for _, m := range catalog() {
		if strings.HasPrefix(m.name, "fluentd_") && !pl.system.FluentdCompatibleMetrics {
			continue
		}
		c.defs[m.name] = m
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, m.labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// reporter reports one plugin's metrics: its rows' metrics funcs call it.
type reporter struct {
	c       *collector
	ch      chan<- prometheus.Metric
	id, typ string
}

// value reports name's value; labels are those after plugin_id and type.
func (r reporter) value(name string, v float64, labels ...string) {
	r.c.emit(r.ch, name, v, append([]string{r.id, r.typ}, labels...)...)
}

// durations reports a buffer.Histogram as name.
func (r reporter) durations(name string, h buffer.Histogram) {
	r.ch <- prometheus.MustNewConstHistogram(r.c.desc(name, histogram), h.Count(), h.Sum().Seconds(), h.Buckets(), r.id, r.typ)
}

// timestamp reports a time as Unix seconds, 0 when zero.
func timestamp(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.emit(ch, "barge_build_info", 1, version)
	rl := &c.pl.reloads
	c.emit(ch, "barge_config_reloads_total", float64(rl.ok.Load()), "ok")
	c.emit(ch, "barge_config_reloads_total", float64(rl.failed.Load()), "failed")
	c.emit(ch, "barge_config_last_reload_successful", float64(rl.lastOK.Load()))
	c.emit(ch, "barge_config_last_reload_success_timestamp_seconds", float64(rl.last.Load()))

	cur := c.pl.snapshot()
	ids := uniqueIDs{}
	for i, in := range cur.inputs {
		meta := cur.inputMeta[i]
		if meta.kind.metrics == nil {
			continue
		}
		meta.kind.metrics(in, reporter{c, ch, ids.of(meta.name, meta.kind.typ), meta.kind.typ})
	}
	// The router's drops. A router that replaces its route table on
	// reload gives them through the same Stats.
	if rs, ok := any(c.pl.router).(interface{ Stats() route.Stats }); ok {
		st := rs.Stats()
		r := reporter{c, ch, "router", "router"}
		r.value(droppedMetric.name, float64(st.Unmatched), "unmatched")
		r.value(droppedMetric.name, float64(st.Filtered), "filtered")
	}
	now := c.now()
	for _, s := range cur.sinks {
		c.collectSink(reporter{c, ch, ids.of(s.name, s.typ), s.typ}, s, now)
	}
	if lk := loaderKind(); lk != nil {
		for _, l := range cur.loaders {
			lk.loaderMetrics(l, reporter{c, ch, ids.of(l.Name(), lk.typ), lk.typ})
		}
	}
}

// collectSink reports a <match>'s buffer and output.
func (c *collector) collectSink(r reporter, s *sink, now time.Time) {
	st := s.buf.Stats()
	usage := 0.0
	if s.limit > 0 {
		usage = float64(st.StagedBytes+st.QueuedBytes) / float64(s.limit)
	}
	stalled := 0.0
	if s.stalled(st, now, c.pl.system.StallTimeout) {
		stalled = 1
	}
	r.value("barge_buffer_staged_chunks", float64(st.StagedChunks))
	r.value("barge_buffer_staged_bytes", float64(st.StagedBytes))
	r.value("barge_buffer_queued_chunks", float64(st.QueuedChunks))
	r.value("barge_buffer_queued_bytes", float64(st.QueuedBytes))
	r.value("barge_buffer_usage_ratio", usage)
	r.value("barge_buffer_records_total", float64(st.Records))
	r.value("barge_output_records_total", float64(st.FlushedRecords))
	r.value("barge_output_bytes_total", float64(st.FlushedBytes))
	r.value("barge_output_flushed_chunks_total", float64(st.Flushed))
	r.durations("barge_output_flush_duration_seconds", st.FlushTime)
	r.value("barge_output_retries_total", float64(st.Retries))
	r.value("barge_output_failed_chunks_total", float64(st.Failed+st.Dropped))
	r.value("barge_output_last_flush_timestamp_seconds", timestamp(st.LastFlush))
	if !st.LastErrorTime.IsZero() {
		r.value("barge_output_last_error_timestamp_seconds", timestamp(st.LastErrorTime), st.LastError)
	}
	r.value("barge_output_stalled", stalled)
	r.value(droppedMetric.name, float64(st.Rejected), "rejected")
	r.value(droppedMetric.name, float64(st.FailedRecords), "failed")
	if k := lookupKind("match", s.typ); k != nil && k.outputMetrics != nil && s.out != nil {
		k.outputMetrics(s.out, r)
	}
	if c.pl.system.FluentdCompatibleMetrics {
		c.collectFluentd(r, st, usage)
	}
}

// collectFluentd reports a <match> under fluent-plugin-prometheus's
// prometheus_output_monitor names (its gauge_all default: all gauges).
func (c *collector) collectFluentd(r reporter, st bufferStats, usage float64) {
	errs := float64(st.Retries + st.Secondary + st.Failed) // each a failed flush of the output
	r.value("fluentd_output_status_buffer_total_bytes", float64(st.StagedBytes+st.QueuedBytes))
	r.value("fluentd_output_status_buffer_stage_length", float64(st.StagedChunks))
	r.value("fluentd_output_status_buffer_stage_byte_size", float64(st.StagedBytes))
	r.value("fluentd_output_status_buffer_queue_length", float64(st.QueuedChunks))
	r.value("fluentd_output_status_buffer_queue_byte_size", float64(st.QueuedBytes))
	r.value("fluentd_output_status_buffer_available_space_ratio", max(0, 100*(1-usage)))
	r.value("fluentd_output_status_retry_count", errs)
	r.value("fluentd_output_status_num_errors", errs)
	r.value("fluentd_output_status_emit_count", float64(st.Appends))
	r.value("fluentd_output_status_emit_records", float64(st.Records))
	r.value("fluentd_output_status_write_count", float64(st.FlushTime.Count()))
	r.value("fluentd_output_status_rollback_count", float64(st.Retries))
	r.value("fluentd_output_status_flush_time_count", float64(st.FlushTime.Sum().Milliseconds()))
	r.value("fluentd_output_status_slow_flush_count", float64(st.FlushTime.Above(slowFlush)))
}

// uniqueIDs keeps plugin_id and type unique within a scrape: a second
// <source> of the same @type without @id (or two <match>es of the same
// pattern) gets plugin_id NAME#2, in config order.
type uniqueIDs map[[2]string]int

func (u uniqueIDs) of(id, typ string) string {
	k := [2]string{id, typ}
	u[k]++
	if n := u[k]; n > 1 {
		return id + "#" + strconv.Itoa(n)
	}
	return id
}

// loaderKind is the row of the <loader>s the pipeline runs.
func loaderKind() *kind {
	for i := range components {
		if k := &components[i]; k.directive == "loader" && k.loaderMetrics != nil {
			return k
		}
	}
	return nil
}

func (c *collector) desc(name string, want metricKind) *prometheus.Desc {
	d, ok := c.defs[name]
	if !ok || d.kind != want {
		panic("barge: metric " + name + " is not in the catalog as reported")
	}
	return c.descs[name]
}

// emit reports a counter's or a gauge's value.
func (c *collector) emit(ch chan<- prometheus.Metric, name string, v float64, labels ...string) {
	d, ok := c.defs[name]
	if !ok || d.kind == histogram {
		panic("barge: metric " + name + " is not in the catalog as reported")
	}
	vt := prometheus.CounterValue
	if d.kind == gauge {
		vt = prometheus.GaugeValue
	}
	ch <- prometheus.MustNewConstMetric(c.descs[name], vt, v, labels...)
}

// stalled reports whether the sink has chunks queued and no successful
// flush for timeout (counted from its start when it never flushed).
func (s *sink) stalled(st bufferStats, now time.Time, timeout time.Duration) bool {
	if timeout <= 0 || st.QueuedChunks == 0 {
		return false
	}
	since := st.LastFlush
	if since.IsZero() {
		since = s.started.Load().(time.Time)
	}
	return now.Sub(since) >= timeout
}

// health is what /healthz and /readyz answer from.
type health struct {
	running  atomic.Bool // the pipeline's inputs listen and its buffers run
	stopping atomic.Bool // shutting down
}

// serveHTTP serves /metrics, /healthz and /readyz on <system> http_bind
// and http_port until ctx ends. It listens before it returns, so that a
// port in use fails the start.
func (pl *pipeline) serveHTTP(ctx context.Context) (stop func(), err error) {
	addr := net.JoinHostPort(pl.system.HTTPBind, strconv.Itoa(pl.system.HTTPPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("<system> http_bind/http_port: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(pl), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", pl.healthz)
	mux.HandleFunc("/readyz", pl.readyz)
	mux.HandleFunc("/reload", pl.reloadHTTP)
	if pl.system.EnablePprof {
		mux.HandleFunc("/debug/pprof/", servePprof)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			pl.log.Error("metrics listener", "addr", addr, "err", err)
		}
	}()
	pl.log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// servePprof serves Go's profiles as net/http/pprof does, for go tool
// pprof: /debug/pprof/profile?seconds=N (CPU, 30 s by default) and
// /debug/pprof/NAME for the runtime's named profiles (heap, allocs,
// goroutine, ...; ?debug=1 for text). It is written here because
// importing net/http/pprof (with runtime/trace) costs every barge 6 MiB
// more RSS at start.
func servePprof(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	debug, _ := strconv.Atoi(r.FormValue("debug"))
	switch {
	case name == "":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "profiles: profile?seconds=N (CPU)")
		for _, p := range pprof.Profiles() {
			fmt.Fprintf(w, "%s (%d)\n", p.Name(), p.Count())
		}
	case name == "profile":
		secs, err := strconv.Atoi(r.FormValue("seconds"))
		if err != nil || secs <= 0 {
			secs = 30
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-r.Context().Done():
		}
		pprof.StopCPUProfile()
	default:
		p := pprof.Lookup(name)
		if p == nil {
			http.NotFound(w, r)
			return
		}
		if debug > 0 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		} else {
			w.Header().Set("Content-Type", "application/octet-stream")
		}
		if name == "heap" && r.FormValue("gc") != "" {
			goruntime.GC()
		}
		p.WriteTo(w, debug)
	}
}

// healthz is liveness: the process serves and its pipeline is not yet
// stopping. It never depends on a backend: a broken S3 does not restart
// the pod.
func (pl *pipeline) healthz(w http.ResponseWriter, _ *http.Request) {
	if pl.health.stopping.Load() {
		http.Error(w, "stopping", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// readyz is readiness: the inputs listen and the buffers run. Each output
// gets a line; a stalled one (chunks queued, no flush for stall_timeout)
// is reported there and in barge_output_stalled, without failing the
// probe.
func (pl *pipeline) readyz(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	ready := pl.health.running.Load() && !pl.health.stopping.Load()
	now := time.Now()
	for _, s := range pl.snapshot().sinks {
		st := s.buf.Stats()
		state := "ok"
		if s.stalled(st, now, pl.system.StallTimeout) {
			since := "never"
			if !st.LastFlush.IsZero() {
				since = now.Sub(st.LastFlush).Round(time.Second).String() + " ago"
			}
			chunks := "chunks"
			if st.QueuedChunks == 1 {
				chunks = "chunk"
			}
			state = fmt.Sprintf("stalled: %d %s queued, last flush %s", st.QueuedChunks, chunks, since)
		}
		fmt.Fprintf(&b, "output %s (%s): %s\n", s.name, s.typ, state)
	}
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: starting or stopping\n%s", b.String())
		return
	}
	fmt.Fprintf(w, "ready\n%s", b.String())
}
