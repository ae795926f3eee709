package bigquery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
)

// Options are the run-time inputs of a Loader.
type Options struct {
	Logger *slog.Logger // nil: discard
	// Now is the clock (nil: time.Now); tests simulate days with it.
	Now func() time.Time
	// Host names this loader in the ledger's job records.
	Host    string
	Version string
	// ConfigPath is the config file the loader came from, for the commands
	// its messages tell the user to run ("" writes FILE).
	ConfigPath string
	// Storage and BigQuery, when set, are used instead of clients made
	// from the configuration.
	Storage  *storage.Client
	BigQuery *bq.Client
}

// Loader commits archived objects to BigQuery table partitions. It is
// a stage of its own, not a buffer.Flusher: it lists the source, keeps
// the ledger and runs its load cycle (Run) until its context ends.
type Loader struct {
	// What New was given, fixed from then on.
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	host       string // names the loader in job records
	version    string
	configPath string // for the commands messages suggest

	// Where the loader reads and writes, derived from cfg by New.
	part   partitioning
	slices *sliceMatcher // places objects without barge metadata
	// bucket and prefix are the source's; prefix is the fixed part of a
	// source prefix with the time in it, whose template is tmpl.
	bucket string
	prefix string
	tmpl   *prefixTemplate
	// The ledger's bucket and prefix (ending with "/"); see doc.go.
	ledgerBucket string
	ledgerPrefix string
	table        string // DATASET.TABLE, the ledger's directory

	// s3Source is the state of an S3 source (s3source.go): how its
	// objects are relayed to the staging bucket, and its caches.
	s3Source

	// mu guards the clients, schema, and the caches below and in
	// s3Source.
	mu sync.Mutex

	// The clients (clients.go): made by Open unless Options gave them,
	// closed by Close (own lists what Open made).
	gcs   *storage.Client
	bq    *bq.Client
	own   []func() error
	store *ledgerStore

	// Load cycle state (cycle.go, commit.go, replay.go).
	schema bq.Schema       // from schema_path, or the table's with fetch_schema
	warned map[string]bool // warnings logged once, by key
	// lateCache holds, per closed partition, its object count and late count.
	lateCache map[string][2]int
	// lastFull is when a cycle last listed the whole source (a source
	// prefix with the time in it lists the open partitions' prefixes).
	lastFull time.Time
	// accepted: BigQuery has accepted a job of this loader (an insert or
	// a job found by id), so a refusal of one object is its own.
	accepted atomic.Bool
	// stageRows are the rows loaded into each staging table of a replay,
	// by the stage loads' statistics, which verify its copy job.
	stageRows map[string]int64

	stats loaderStats // see Stats

	// lister, when set by a test, replaces the bucket listing (a simulated
	// day of 200 producers is more objects than an emulator holds).
	lister func(context.Context) ([]object, error)
}

// New validates cfg. It does no I/O: clients are made by Open.
func New(cfg Config, opts Options) (*Loader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Source == "" {
		return nil, errors.New("'source' is not set: resolve 'source_output' first")
	}
	l := &Loader{cfg: cfg, log: opts.Logger, now: opts.Now, host: opts.Host, version: opts.Version, configPath: opts.ConfigPath,
		part: partitioning(cfg.PartitionType), gcs: opts.Storage, bq: opts.BigQuery, warned: map[string]bool{}, lateCache: map[string][2]int{}}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.slices, _ = newSliceMatcher(cfg.TimeSliceFormat)
	scheme, bucket, prefix, _ := ParseSource(cfg.Source)
	l.bucket, l.prefix = bucket, prefix
	if t, _ := parsePrefixTemplate(prefix); t != nil {
		l.tmpl, l.prefix = t, t.static
	}
	l.ledgerBucket, l.ledgerPrefix = l.bucket, "_barge/ledger/"
	if scheme == "s3" {
		l.s3src = true
		l.stageBucket, l.stagePrefix, _ = ParseGSURL(cfg.Staging)
		l.ledgerBucket = l.stageBucket
		l.heads = map[string]object{}
		l.listed = map[string]object{}
	}
	if cfg.Ledger != "" {
		l.ledgerBucket, l.ledgerPrefix, _ = ParseGSURL(cfg.Ledger)
	}
	l.table = cfg.Dataset + "." + cfg.Table
	return l, nil
}

// Name is the <loader NAME>.
func (l *Loader) Name() string { return l.cfg.Name }

// warnOnce reports whether the warning named key is logged now: the first
// time it is asked for.
func (l *Loader) warnOnce(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.warned[key] {
		return false
	}
	l.warned[key] = true
	return true
}
