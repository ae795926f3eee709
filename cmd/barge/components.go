package main

import (
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/barge-dev/barge/buffer"
	"github.com/barge-dev/barge/forwarder"
	"github.com/barge-dev/barge/forwarder/files"
	"github.com/barge-dev/barge/forwarder/route"
	"github.com/barge-dev/barge/forwarder/tail"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/file"
	"github.com/barge-dev/barge/output/forward"
	"github.com/barge-dev/barge/output/gcs"
	"github.com/barge-dev/barge/output/null"
	"github.com/barge-dev/barge/output/s3"
	"github.com/barge-dev/barge/output/stdout"
)

// components is barge's table of component kinds: every @type a
// <source>, <filter>, <match> or <loader> may name, one row each. The plan
// decodes a directive with its row's config, the pipeline builds it with
// its row's constructor, and the README test finds its parameters under
// its row's heading. Adding an input or an output is one package and one
// row here; nothing else in cmd/barge names a @type.
//
// Rows are listed by directive, in the order "barge has: ..." messages
// list them.
var components = []kind{
	{
		directive: "source", typ: "forward",
		heading: "### `<source>` `@type forward`",
		config:  defaults(forwarder.DefaultConfig),
		input: func(cfg any, e env) (input, error) {
			srv, err := forwarder.NewServer(*cfg.(*forwarder.Config), e.router, forwarder.Options{Logger: e.log, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return srv, nil
		},
		metrics: func(in input, r reporter) {
			st := in.(*forwarder.Server).Stats()
			r.value("barge_input_records_total", float64(st.Records))
			r.value("barge_input_bytes_total", float64(st.Bytes))
			r.value("barge_input_errors_total", float64(st.Malformed+st.Oversize+st.Timeouts+st.BadTags+st.TooDeep+st.AuthFailures+st.TLSErrors+st.AppendErrors))
			r.value("barge_input_invalid_total", float64(st.Malformed), "malformed")
			r.value("barge_input_invalid_total", float64(st.Oversize), "oversize")
			r.value("barge_input_invalid_total", float64(st.BadTags), "bad_tag")
			r.value("barge_input_invalid_total", float64(st.TooDeep), "too_deep")
			r.value("barge_records_dropped_total", float64(st.Invalid), "invalid")
			r.value("barge_forward_connections", float64(st.Active))
			r.value("barge_forward_handshake_failures_total", float64(st.AuthFailures+st.TLSErrors))
		},
	},
	{
		directive: "source", typ: "files",
		heading: "### `<source>` `@type files`",
		config:  defaults(files.DefaultConfig),
		input: func(cfg any, e env) (input, error) {
			in, err := files.New(*cfg.(*files.Config), e.router, files.Options{Logger: e.log, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return in, nil
		},
		metrics: func(in input, r reporter) {
			st := in.(*files.Input).Stats()
			r.value("barge_input_records_total", float64(st.Records))
			r.value("barge_input_bytes_total", float64(st.Bytes))
			r.value("barge_input_errors_total", float64(st.AppendErrors+st.LedgerErrors+st.AfterErrors+st.ReadErrors))
			r.value("barge_files_shipped_total", float64(st.Files))
			r.value("barge_files_failed_total", float64(st.Failed))
		},
	},
	{
		directive: "source", typ: "tail",
		heading: "### `<source>` `@type tail`",
		config:  defaults(tail.DefaultConfig),
		input: func(cfg any, e env) (input, error) {
			t, err := tail.New(*cfg.(*tail.Config), e.router, tail.Options{Logger: e.log, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return t, nil
		},
		metrics: func(in input, r reporter) {
			t := in.(*tail.Tailer)
			st := t.Stats()
			r.value("barge_input_records_total", float64(st.Records))
			r.value("barge_input_bytes_total", float64(st.Bytes))
			r.value("barge_input_errors_total", float64(st.Errors))
			r.value("barge_input_invalid_total", float64(st.Unmatched), "unparsed")
			r.value("barge_records_dropped_total", float64(st.LongLines), "too_long")
			r.value("barge_tail_files", float64(st.Files))
			for _, f := range t.Lag() {
				r.value("barge_tail_bytes_behind", float64(f.Behind), f.Path)
			}
		},
	},
	{
		directive: "filter", typ: "grep",
		heading: "### `<filter>` `@type grep`",
		config:  defaults(route.DefaultGrepConfig),
		filter: func(cfg any, e env) (route.Filter, error) {
			f, err := route.NewGrep(*cfg.(*route.GrepConfig))
			if err != nil {
				return nil, err
			}
			return f, nil
		},
	},
	{
		directive: "filter", typ: "record_transformer",
		heading: "### `<filter>` `@type record_transformer`",
		config:  defaults(route.DefaultRecordTransformerConfig),
		filter: func(cfg any, e env) (route.Filter, error) {
			f, err := route.NewRecordTransformer(*cfg.(*route.RecordTransformerConfig), e.hostname)
			if err != nil {
				return nil, err
			}
			return f, nil
		},
	},
	{
		directive: "filter", typ: "stdout",
		heading: "### `<filter>` `@type stdout`",
		config:  defaults(stdout.DefaultConfig),
		filter: func(cfg any, e env) (route.Filter, error) {
			f, err := stdout.NewFilter(*cfg.(*stdout.Config), stdout.Options{Logger: e.log, Writer: e.stdout, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return f, nil
		},
	},
	{
		directive: "match", typ: "file",
		heading: "### `<match>` `@type file`",
		config:  defaults(file.DefaultConfig),
		buffer:  "file",
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := file.New(*cfg.(*file.Config), file.Options{Logger: e.log, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
		chunkKeys:  func(cfg any, keys []string) error { return cfg.(*file.Config).CheckChunkKeys(keys) },
		bufferPath: func(cfg any) string { return besidePath(cfg.(*file.Config).Path) },
	},
	{
		directive: "match", typ: "s3",
		heading: "### `<match>` `@type s3`",
		config:  defaults(s3.DefaultConfig),
		buffer:  "file",
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := s3.New(*cfg.(*s3.Config), s3.Options{Logger: e.log, Hostname: e.hostname, Version: version})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
		chunkKeys: func(cfg any, keys []string) error { return cfg.(*s3.Config).CheckChunkKeys(keys) },
		outputMetrics: func(out io.Closer, r reporter) {
			r.durations("barge_output_upload_duration_seconds", out.(*s3.Output).UploadTime())
		},
		objects: func(cfg any, o *bigquery.OutputSpec) {
			c := cfg.(*s3.Config)
			o.Bucket, o.Path, o.StoreAs = c.S3Bucket, c.Path, c.StoreAs
			o.Format, o.KeyStyle = c.Format.Type, c.Format.KeyStyle
			o.TimeKey, o.TimeType, o.TimeFormat = c.Inject.TimeKey, c.Inject.TimeType, c.Inject.TimeFormat
		},
		connect: func(cfg any, lp *loaderPlan) { followS3(lp, cfg.(*s3.Config)) },
	},
	{
		directive: "match", typ: "gcs",
		heading: "### `<match>` `@type gcs`",
		config:  defaults(gcs.DefaultConfig),
		buffer:  "file",
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := gcs.New(*cfg.(*gcs.Config), gcs.Options{Logger: e.log, Hostname: e.hostname, Version: version})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
		chunkKeys: func(cfg any, keys []string) error { return cfg.(*gcs.Config).CheckChunkKeys(keys) },
		outputMetrics: func(out io.Closer, r reporter) {
			r.durations("barge_output_upload_duration_seconds", out.(*gcs.Output).UploadTime())
		},
		objects: func(cfg any, o *bigquery.OutputSpec) {
			c := cfg.(*gcs.Config)
			o.Bucket, o.Path, o.StoreAs = c.Bucket, c.Path, c.StoreAs
			o.Format, o.KeyStyle = c.Format.Type, c.Format.KeyStyle
			o.TimeKey, o.TimeType, o.TimeFormat = c.Inject.TimeKey, c.Inject.TimeType, c.Inject.TimeFormat
		},
	},
	{
		directive: "match", typ: "forward",
		heading: "### `<match>` `@type forward`",
		config:  defaults(forward.DefaultConfig),
		buffer:  "file",
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := forward.New(*cfg.(*forward.Config), forward.Options{Logger: e.log})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
		outputMetrics: func(out io.Closer, r reporter) {
			st := out.(*forward.Output).Stats()
			r.value("barge_forward_output_acks_total", float64(st.Acks))
			r.value("barge_forward_output_ack_timeouts_total", float64(st.AckTimeouts))
			r.value("barge_forward_output_errors_total", float64(st.Errors))
			r.value("barge_forward_output_connections_total", float64(st.Connects))
			r.value("barge_forward_output_handshake_failures_total", float64(st.HandshakeFailures))
			for _, sv := range st.Servers {
				up := 1.0
				if sv.Down {
					up = 0
				}
				r.value("barge_forward_output_server_up", up, sv.Name)
				r.value("barge_forward_output_idle_connections", float64(sv.Idle), sv.Name)
			}
		},
	},
	{
		directive: "match", typ: "stdout",
		heading:   "### `<match>` `@type stdout`",
		config:    defaults(stdout.DefaultConfig),
		buffer:    "memory",
		immediate: true,
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := stdout.New(*cfg.(*stdout.Config), stdout.Options{Logger: e.log, Writer: e.stdout, Hostname: e.hostname})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
	},
	{
		directive: "match", typ: "null",
		heading:   "### `<match>` `@type null`",
		config:    defaults(null.DefaultConfig),
		buffer:    "memory",
		immediate: true,
		output: func(cfg any, e env) (buffer.Flusher, error) {
			o, err := null.New(*cfg.(*null.Config), null.Options{Logger: e.log})
			if err != nil {
				return nil, err
			}
			return o, nil
		},
	},
	{
		directive: "loader", typ: "bigquery",
		heading: "### `<loader>` `@type bigquery`",
		config:  defaults(bigquery.DefaultConfig),
		loaderMetrics: func(l *bigquery.Loader, r reporter) {
			st := l.Stats()
			r.value("barge_loader_jobs_total", float64(st.Committed), "committed")
			r.value("barge_loader_jobs_total", float64(st.Failed), "failed")
			r.value("barge_loader_jobs_total", float64(st.Unsubmitted), "unsubmitted")
			r.value("barge_loader_objects_total", float64(st.Objects))
			r.value("barge_loader_rows_total", float64(st.Rows))
			r.value("barge_loader_deferred_partitions_total", float64(st.Deferred))
			r.value("barge_loader_budget_jobs", float64(st.Budget))
			r.value("barge_loader_budget_jobs_left", float64(st.BudgetLeft))
			if !st.LastErrorTime.IsZero() {
				r.value("barge_loader_last_error_timestamp_seconds", timestamp(st.LastErrorTime), st.LastError)
			}
		},
	},
}

// kind is one row of the table of components.
type kind struct {
	directive string // source, filter, match or loader
	typ       string // its @type
	// heading is the README heading under which its parameters are
	// documented (TestREADMEDocumentsEveryParameter).
	heading string
	// config returns a pointer to a new config holding its defaults, into
	// which the directive is decoded (conf.Decode).
	config func() any

	// A <source> is built by input; metrics reports its counters under
	// the names of the catalog (metrics.go), nil when it has none.
	input   func(cfg any, e env) (input, error)
	metrics func(in input, r reporter)
	// A <filter> is built by filter.
	filter func(cfg any, e env) (route.Filter, error)

	// A <match> is built by output, and buffered by a <buffer> of @type
	// buffer by default, with flush_mode immediate when immediate is set
	// (outputs that write nothing durable take each chunk at once).
	output    func(cfg any, e env) (buffer.Flusher, error)
	buffer    string
	immediate bool
	// bufferPath, when the output has a place of its own for a file
	// buffer given no path, returns its directory ("" for none); nil:
	// under <system> root_dir (defaultBufferPath).
	bufferPath func(cfg any) string
	// outputMetrics reports the output's own counters (its buffer's are
	// the collector's), given the output built; nil when it has none.
	outputMetrics func(out io.Closer, r reporter)
	// chunkKeys reports a placeholder of the output's paths or keys that
	// its <buffer> has no chunk key for; nil when it has none.
	chunkKeys func(cfg any, keys []string) error
	// objects describes the objects the output writes, for a loader that
	// follows it (source_output) and for barge schema infer; nil for an
	// output a loader cannot read.
	objects func(cfg any, o *bigquery.OutputSpec)
	// connect gives a loader following the output the output's
	// connection settings, where the loader sets none of its own; nil
	// when the loader has nothing to take.
	connect func(cfg any, lp *loaderPlan)

	// A <loader> is built by buildLoaders (pipeline.go); loaderMetrics
	// reports its counters.
	loaderMetrics func(l *bigquery.Loader, r reporter)
}

// env is what building a component takes besides its config.
type env struct {
	log      *slog.Logger
	hostname string
	router   labelView // where inputs append: their label's router
	stdout   io.Writer // where @type stdout writes
}

// defaults adapts a package's DefaultConfig to kind.config.
func defaults[C any](f func() C) func() any {
	return func() any {
		c := f()
		return &c
	}
}

// lookupKind returns the row of directive's @type typ, or nil.
func lookupKind(directive, typ string) *kind {
	for i := range components {
		if k := &components[i]; k.directive == directive && k.typ == typ {
			return k
		}
	}
	return nil
}

// kindNames lists the @types a directive may name, for messages.
func kindNames(directive string) string {
	var names []string
	for _, k := range components {
		if k.directive == directive && !slices.Contains(names, k.typ) {
			names = append(names, k.typ)
		}
	}
	return strings.Join(names, ", ")
}

// loadableKinds lists the outputs whose objects a loader reads.
func loadableKinds() string {
	var names []string
	for _, k := range components {
		if k.objects != nil {
			names = append(names, k.typ)
		}
	}
	return strings.Join(names, ", ")
}
