package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricDef is one of barge's own metrics. The catalog below is the whole
// list: the README documents each (TestMetricsCatalogDocumented), and a
// component's row reports values only under these names.
type metricDef struct {
	name  string
	help  string
	gauge bool // else a counter
}

// inputMetrics are reported per <source>, labelled plugin_id and type.
var inputMetrics = []metricDef{
	{"barge_input_records_total", "Records the input appended to the buffers (or dropped by filters or routing).", false},
	{"barge_input_bytes_total", "Bytes the input took in: forward frames, tailed lines, data files shipped whole.", false},
	{"barge_input_errors_total", "The input's errors: forward connections closed for bad input, stalls and failed handshakes; tail and files read, append and position errors.", false},
	{"barge_forward_connections", "Forward connections open now.", true},
	{"barge_forward_handshake_failures_total", "Failed <security> and TLS handshakes.", false},
	{"barge_tail_files", "Files followed now, rotated ones still read included.", true},
	{"barge_files_shipped_total", "Data file versions shipped whole.", false},
	{"barge_files_failed_total", "Bad data files (reported, moved to error_dir or remembered).", false},
}

// outputMetrics are reported per <match> (its buffer and output),
// labelled plugin_id and type.
var outputMetrics = []metricDef{
	{"barge_buffer_staged_chunks", "Chunks being filled.", true},
	{"barge_buffer_staged_bytes", "Bytes of entries in the chunks being filled.", true},
	{"barge_buffer_queued_chunks", "Chunks queued for the output or being flushed.", true},
	{"barge_buffer_queued_bytes", "Bytes of entries in the chunks queued or being flushed.", true},
	{"barge_buffer_usage_ratio", "Staged and queued bytes over total_limit_size.", true},
	{"barge_buffer_records_total", "Records appended to the buffer.", false},
	{"barge_output_flushed_chunks_total", "Chunks the output flushed (then deleted from the buffer).", false},
	{"barge_output_retries_total", "Failed flushes that will be retried.", false},
	{"barge_output_failed_chunks_total", "Chunks set aside: moved to failed/ after their retries or a permanent error, or dropped (memory buffer, drop_oldest_chunk).", false},
	{"barge_output_last_flush_timestamp_seconds", "Unix time of the output's last successful flush (0: none yet).", true},
	{"barge_output_stalled", "1 while chunks are queued and no flush succeeded for stall_timeout.", true},
}

// buildInfo is barge_build_info{version}, always 1.
var buildInfo = metricDef{"barge_build_info", "barge's version, as a label; the value is 1.", true}

// collector reports the catalog's metrics from the components' counters
// at each scrape: nothing is counted twice, and the data path pays nothing.
type collector struct {
	pl    *pipeline
	descs map[string]*prometheus.Desc
	info  *prometheus.Desc
	now   func() time.Time
}

func newCollector(pl *pipeline) *collector {
	c := &collector{pl: pl, descs: map[string]*prometheus.Desc{}, now: time.Now}
	for _, m := range append(append([]metricDef(nil), inputMetrics...), outputMetrics...) {
		c.descs[m.name] = prometheus.NewDesc(m.name, m.help, []string{"plugin_id", "type"}, nil)
	}
	c.info = prometheus.NewDesc(buildInfo.name, buildInfo.help, []string{"version"}, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	ch <- c.info
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1, version)
	cur := c.pl.snapshot()
	for i, in := range cur.inputs {
		meta := cur.inputMeta[i]
		if meta.kind.metrics == nil {
			continue
		}
		for name, v := range meta.kind.metrics(in) {
			c.emit(ch, inputMetrics, name, v, meta.name, meta.kind.typ)
		}
	}
	now := c.now()
	for _, s := range cur.sinks {
		st := s.buf.Stats()
		limit := float64(s.limit)
		usage := 0.0
		if limit > 0 {
			usage = float64(st.StagedBytes+st.QueuedBytes) / limit
		}
		last := 0.0
		if !st.LastFlush.IsZero() {
			last = float64(st.LastFlush.UnixNano()) / 1e9
		}
		stalled := 0.0
		if s.stalled(st, now, c.pl.system.StallTimeout) {
			stalled = 1
		}
		for name, v := range map[string]float64{
			"barge_buffer_staged_chunks":                float64(st.StagedChunks),
			"barge_buffer_staged_bytes":                 float64(st.StagedBytes),
			"barge_buffer_queued_chunks":                float64(st.QueuedChunks),
			"barge_buffer_queued_bytes":                 float64(st.QueuedBytes),
			"barge_buffer_usage_ratio":                  usage,
			"barge_buffer_records_total":                float64(st.Records),
			"barge_output_flushed_chunks_total":         float64(st.Flushed),
			"barge_output_retries_total":                float64(st.Retries),
			"barge_output_failed_chunks_total":          float64(st.Failed + st.Dropped),
			"barge_output_last_flush_timestamp_seconds": last,
			"barge_output_stalled":                      stalled,
		} {
			c.emit(ch, outputMetrics, name, v, s.name, s.typ)
		}
	}
}

func (c *collector) emit(ch chan<- prometheus.Metric, defs []metricDef, name string, v float64, id, typ string) {
	for _, d := range defs {
		if d.name != name {
			continue
		}
		vt := prometheus.CounterValue
		if d.gauge {
			vt = prometheus.GaugeValue
		}
		ch <- prometheus.MustNewConstMetric(c.descs[name], vt, v, id, typ)
		return
	}
	panic("barge: metric " + name + " is not in the catalog")
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
