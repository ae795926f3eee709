package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/barge-dev/barge/output/bigquery/bqschema"
	s3out "github.com/barge-dev/barge/output/s3"
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

// Loader commits archived objects to BigQuery table partitions.
type Loader struct {
	cfg          Config
	log          *slog.Logger
	now          func() time.Time
	host         string
	version      string
	configPath   string // for the commands messages suggest
	part         partitioning
	slices       *sliceMatcher
	bucket       string
	prefix       string
	ledgerBucket string
	ledgerPrefix string
	table        string // DATASET.TABLE, the ledger's directory
	// An S3 source: objects are relayed to the staging bucket and prefix
	// and loaded from there.
	s3src       bool
	stageBucket string
	stagePrefix string

	mu     sync.Mutex
	gcs    *storage.Client
	bq     *bq.Client
	own    []func() error // clients to close
	store  *ledgerStore
	schema bq.Schema
	warned map[string]bool
	// lister, when set by a test, replaces the bucket listing (a simulated
	// day of 200 producers is more objects than an emulator holds).
	lister func(context.Context) ([]object, error)
	// lateCache holds, per closed partition, its object count and late count.
	lateCache map[string][2]int
	// s3 is the S3 source's client; heads caches the placement of its
	// objects by key and ETag (objects never change), listed the latest
	// listing's objects by key.
	s3     *awss3.Client
	s3tr   *http.Transport
	heads  map[string]object
	listed map[string]object
	// tmpl is a source prefix with the time in it; lastFull is when a
	// cycle last listed the whole source.
	tmpl     *prefixTemplate
	lastFull time.Time
	// accepted: BigQuery has accepted a job of this loader (an insert or
	// a job found by id), so a refusal of one object is its own.
	accepted atomic.Bool
	// stageRows are the rows loaded into each staging table of a replay,
	// by the stage loads' statistics, which verify its copy job.
	stageRows map[string]int64
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

// Open makes the clients and reads the schema file. It is called by Run
// and by the one-shot commands.
func (l *Loader) Open(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.store != nil {
		return nil
	}
	if l.cfg.SchemaPath != "" {
		s, err := bqschema.ParseFile(l.cfg.SchemaPath)
		if err != nil {
			return fmt.Errorf("'schema_path': %w", err)
		}
		l.schema = s.BigQuery()
	}
	if l.gcs == nil {
		opts, closeIdle, err := l.storageOptions(ctx, os.Getenv("STORAGE_EMULATOR_HOST") != "")
		if err != nil {
			return err
		}
		c, err := storage.NewClient(context.WithoutCancel(ctx), opts...)
		if err != nil {
			return fmt.Errorf("gcs client: %w", err)
		}
		// A request is retried for request_timeout, not until the
		// caller gives up (a listing has no deadline of its own).
		c.SetRetry(storage.WithMaxRetryDuration(l.cfg.RequestTimeout))
		l.gcs = c
		l.own = append(l.own, c.Close, func() error { closeIdle(); return nil })
	}
	if l.bq == nil {
		opts, closeIdle, err := l.bigQueryOptions(ctx)
		if err != nil {
			return err
		}
		project := l.cfg.Project
		if project == "" {
			project = bq.DetectProjectID
		}
		c, err := bq.NewClient(context.WithoutCancel(ctx), project, opts...)
		if err != nil {
			return fmt.Errorf("bigquery client: %w", err)
		}
		l.bq = c
		l.own = append(l.own, c.Close, func() error { closeIdle(); return nil })
	}
	if l.s3src && l.s3 == nil {
		c, tr, err := s3out.NewClient(context.WithoutCancel(ctx), s3out.ClientConfig{Region: l.cfg.S3Region, Endpoint: l.cfg.S3Endpoint,
			ForcePathStyle: l.cfg.ForcePathStyle, SSLVerifyPeer: l.cfg.SSLVerifyPeer, ProxyURI: l.cfg.ProxyURI,
			AWSKeyID: l.cfg.AWSKeyID, AWSSecKey: l.cfg.AWSSecKey, SharedCredentials: l.cfg.SharedCredentials, AssumeRole: l.cfg.AssumeRole})
		if err != nil {
			return fmt.Errorf("s3 client: %w", err)
		}
		l.s3, l.s3tr = c, tr
		l.own = append(l.own, func() error { tr.CloseIdleConnections(); return nil })
	}
	l.store = &ledgerStore{gcs: l.gcs, bucket: l.ledgerBucket, prefix: l.ledgerPrefix}
	return nil
}

// credentials reads json_key: a file path or the key's JSON.
func (l *Loader) credentials() ([]option.ClientOption, error) {
	k := strings.TrimSpace(l.cfg.JSONKey)
	if k == "" {
		return nil, nil
	}
	data := []byte(k)
	if !strings.HasPrefix(k, "{") {
		var err error
		if data, err = os.ReadFile(k); err != nil {
			return nil, fmt.Errorf("'json_key': %w", err)
		}
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Type != "service_account" {
		return nil, errors.New("'json_key' is not a service account key (JSON with \"type\": \"service_account\")")
	}
	return []option.ClientOption{option.WithAuthCredentialsJSON(option.ServiceAccount, data)}, nil
}

// Close closes the clients the loader made. It is idempotent.
func (l *Loader) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, c := range l.own {
		errs = append(errs, c())
	}
	l.own = nil
	return errors.Join(errs...)
}

// Run commits new objects every load_interval until ctx ends. A cycle that
// fails is logged and the next one tries again.
func (l *Loader) Run(ctx context.Context) error {
	if err := l.Open(ctx); err != nil {
		return err
	}
	l.log.Info("loader started", "table", l.table, "source", l.cfg.Source, "load_interval", l.cfg.LoadInterval.String())
	for {
		res, err := l.Cycle(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			l.log.Error("load cycle", "err", err)
		} else if res.Jobs > 0 || res.Late > 0 {
			l.log.Info("load cycle", "jobs", res.Jobs, "objects", res.Objects, "rows", res.Rows, "failed", res.Failed, "late", res.Late)
		}
		t := time.NewTimer(l.cfg.LoadInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// CycleResult sums up one load cycle.
type CycleResult struct {
	Partitions  int   // open partitions with objects
	Jobs        int   // jobs settled (submitted now or adopted)
	Objects     int   // objects committed
	Rows        int64 // rows committed, as far as the server reported them
	RowsUnknown int   // committed jobs whose rows the server did not report
	Failed      int   // jobs that failed or could not be submitted
	Late        int   // objects of closed partitions not committed
	Deferred    int   // partitions left for a later cycle by the job budget
	// FirstError is the first failure of the cycle, in one line.
	FirstError string
}

func (r *CycleResult) fail(msg string) {
	r.Failed++
	if r.FirstError == "" {
		r.FirstError = msg
	}
}

// Cycle lists the source once and commits the uncommitted objects of each
// open partition with one job per partition.
func (l *Loader) Cycle(ctx context.Context) (CycleResult, error) {
	var res CycleResult
	if err := l.Open(ctx); err != nil {
		return res, err
	}
	if l.cfg.FetchSchema {
		if err := l.fetchSchema(ctx); err != nil {
			return res, err
		}
	}
	now := l.now()
	objs, err := l.listCycle(ctx, now)
	if err != nil {
		return res, err
	}
	var errs []error
	open := map[string]bool{}
	defer l.store.forget(open)
	for _, p := range groupByPartition(objs) {
		start, _ := l.part.start(p.id)
		if p.id == "" {
			continue
		}
		if !now.Before(l.part.end(start).Add(l.cfg.Lateness)) {
			n, err := l.late(ctx, p)
			res.Late += n
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		res.Partitions++
		open[p.id] = true
		if err := l.commitPartition(ctx, p, &res); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("partition %s: %w", p.id, err))
		}
	}
	for _, o := range objs {
		if o.Problem != "" && l.warnOnce("problem "+o.Name) {
			l.log.Warn("object cannot be loaded", "object", l.sourceURI(o.Name), "err", o.Problem)
		}
	}
	return res, errors.Join(errs...)
}

// fetchSchema reads the table's current schema for the loads of this
// cycle (fetch_schema): a missing table or a denied read is reported, by
// the table's name, before any job is claimed.
func (l *Loader) fetchSchema(ctx context.Context) error {
	mctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	md, err := l.bq.Dataset(l.cfg.Dataset).Table(l.cfg.Table).Metadata(mctx)
	if err != nil {
		return fmt.Errorf("fetch_schema: get table %s.%s: %w", l.cfg.Dataset, l.cfg.Table, err)
	}
	l.mu.Lock()
	l.schema = md.Schema
	l.mu.Unlock()
	return nil
}

// listCycle lists what a load cycle needs: the whole source, or for a
// source prefix with the time in it, the prefixes of the open partitions,
// and the whole source once every fullListEvery (for late objects).
func (l *Loader) listCycle(ctx context.Context, now time.Time) ([]object, error) {
	if l.tmpl == nil || l.lister != nil {
		return l.listSource(ctx)
	}
	if l.lastFull.IsZero() || now.Sub(l.lastFull) >= fullListEvery {
		objs, err := l.listSource(ctx)
		if err == nil {
			l.lastFull = now
		}
		return objs, err
	}
	// The oldest partition that may be open holds now-lateness.
	from, _ := l.part.start(l.part.id(now.Add(-l.cfg.Lateness)))
	var out []object
	for _, p := range l.tmpl.prefixes(from, now) {
		objs, err := l.listPrefix(ctx, p, false)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

type partitionObjects struct {
	id   string
	objs []object
}

func groupByPartition(objs []object) []partitionObjects {
	// Keys that start with the time (barge's default object key,
	// %{path}%{time_slice}_...) list each partition as one run: the
	// groups are then slices of the listing, nothing is copied.
	if runs := partitionRuns(objs); runs != nil {
		return runs
	}
	// Counted first: a listing can hold hundreds of thousands of objects.
	n := map[string]int{}
	for _, o := range objs {
		n[o.Partition]++
	}
	m := make(map[string][]object, len(n))
	for id, c := range n {
		m[id] = make([]object, 0, c)
	}
	for _, o := range objs {
		m[o.Partition] = append(m[o.Partition], o)
	}
	out := make([]partitionObjects, 0, len(m))
	for id, os := range m {
		out = append(out, partitionObjects{id: id, objs: os})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// partitionRuns groups objs by slicing when each partition's objects are
// contiguous in it, else returns nil.
func partitionRuns(objs []object) []partitionObjects {
	var out []partitionObjects
	seen := map[string]bool{}
	start := 0
	for i := 1; i <= len(objs); i++ {
		if i < len(objs) && objs[i].Partition == objs[start].Partition {
			continue
		}
		id := objs[start].Partition
		if seen[id] {
			return nil
		}
		seen[id] = true
		out = append(out, partitionObjects{id: id, objs: objs[start:i:i]})
		start = i
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (l *Loader) warnOnce(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.warned[key] {
		return false
	}
	l.warned[key] = true
	return true
}

// late counts the uncommitted objects of a closed partition, warning once.
// The count is kept until the partition's object count changes, so closed
// partitions cost no ledger reads cycle after cycle.
func (l *Loader) late(ctx context.Context, p partitionObjects) (int, error) {
	l.mu.Lock()
	c, ok := l.lateCache[p.id]
	l.mu.Unlock()
	if ok && c[0] == len(p.objs) {
		return c[1], nil
	}
	d, _, err := l.store.read(ctx, l.table, p.id)
	if err != nil {
		return 0, err
	}
	n := len(d.uncommitted(p.objs))
	l.mu.Lock()
	l.lateCache[p.id] = [2]int{len(p.objs), n}
	l.mu.Unlock()
	if n > 0 && l.warnOnce(fmt.Sprintf("late %s %d", p.id, n)) {
		l.log.Warn("objects arrived after their partition closed: not loaded; barge replay loads them", "partition", p.id, "objects", n, "lateness", l.cfg.Lateness.String(),
			"run", l.replayCommand(p.id))
	}
	return n, nil
}

// destination is where appends of a partition go: the base table when it
// is partitioned on a column (BigQuery routes each row by it), else the
// partition itself.
func (l *Loader) destination(partition string) string {
	if l.cfg.PartitionField != "" {
		return l.cfg.Table
	}
	return l.cfg.Table + "$" + partition
}

// commitPartition settles a pending job of the partition, if any, then
// submits one job for its uncommitted objects, and more while a failed
// batch is being split (bisection).
func (l *Loader) commitPartition(ctx context.Context, p partitionObjects, res *CycleResult) error {
	claims := 0
	records := recordCounts(p.objs)
	for try := 0; try < maxStepsPerPartition; try++ {
		d, gen, err := l.store.read(ctx, l.table, p.id)
		if err != nil {
			return err
		}
		if j := d.pending(); j != nil {
			if err := l.resolve(ctx, d, gen, j, res, records); err != nil {
				if errors.Is(err, errConflict) || errors.Is(err, errAgain) {
					continue
				}
				return err
			}
			continue
		}
		if claims > 0 && (len(d.Groups) == 0 || claims >= maxClaimsPerCycle) {
			return nil
		}
		batch := d.nextBatch(p.objs, l.cfg.MaxObjectsPerJob)
		if len(batch) == 0 {
			return nil
		}
		q, err := l.store.take(ctx, l.table, l.now(), l.cfg.MaxJobsPerTablePerDay, false)
		if err != nil {
			return err
		}
		if !q.ok {
			res.Deferred++
			l.budgetWarning(q)
			return nil
		}
		j := l.newJob(d, kindLoad, l.destination(p.id), batch, "")
		if err := l.store.writeManifest(ctx, l.table, p.id, j); err != nil {
			return err
		}
		d.addJob(j)
		gen, err = l.store.write(ctx, d, gen)
		if errors.Is(err, errConflict) {
			continue // another loader claimed first; see what it did
		}
		if err != nil {
			return err
		}
		l.log.Info("claimed job", "job", j.ID, "partition", p.id, "objects", len(batch))
		claims++
		if err := l.resolve(ctx, d, gen, j, res, records); err != nil {
			if errors.Is(err, errConflict) || errors.Is(err, errAgain) {
				continue
			}
			return err
		}
	}
	return nil
}

const (
	// maxStepsPerPartition bounds the ledger reads of one partition in a
	// cycle; maxClaimsPerCycle its new jobs (the first, then the parts
	// of a batch being bisected).
	maxStepsPerPartition = 40
	maxClaimsPerCycle    = 12
	// maxDataRefusals is how often an insert refused as invalid is tried
	// before its batch is bisected; maxClaimAttempts how often a claim is
	// tried (across cycles) before it is released with its error.
	maxDataRefusals  = 3
	maxClaimAttempts = 5
)

// errAgain says a claim should be tried again at once.
var errAgain = errors.New("bigquery: try the claim again")

func (l *Loader) budgetWarning(q quotaDecision) {
	day := l.now().UTC().Format("20060102")
	if q.left == 0 {
		if l.warnOnce("budget exhausted " + day) {
			l.log.Warn("job budget of the day used up: objects wait for the next UTC day", "table", l.table, "max_jobs_per_table_per_day", l.cfg.MaxJobsPerTablePerDay)
		}
		return
	}
	if l.warnOnce("budget low " + day) {
		l.log.Warn("job budget paced: jobs are spaced out and carry more objects each", "table", l.table, "jobs_left", q.left, "next_job_in", q.wait.Round(time.Second).String(), "max_jobs_per_table_per_day", l.cfg.MaxJobsPerTablePerDay)
	}
}

// newJob makes the record of a job, with an id no failed job of the
// ledger has.
func (l *Loader) newJob(d *ledger, kind, dest string, objects []string, staging string) *jobRecord {
	failed := d.failedIDs()
	var id string
	for attempt := 0; ; attempt++ {
		id = jobID(kind, l.cfg.Project+":"+l.table, dest, objects, staging, attempt)
		if !failed[id] {
			break
		}
	}
	return &jobRecord{ID: id, Kind: kind, Destination: dest, Objects: objects, Count: len(objects),
		Staging: staging, State: statePending, Claimed: l.now().UTC(), By: l.host}
}

// nextBatch picks the objects of the next job: a group split from a
// failed batch first, else the uncommitted objects, oldest names first.
func (d *ledger) nextBatch(objs []object, max int) []string {
	for len(d.Groups) > 0 {
		g := d.Groups[0]
		var live []string
		for _, o := range g {
			if _, ok := d.Committed[o]; ok {
				continue
			}
			if _, ok := d.Quarantined[o]; ok {
				continue
			}
			live = append(live, o)
		}
		if len(live) > 0 {
			return live
		}
		d.Groups = d.Groups[1:]
	}
	u := d.uncommitted(objs)
	if len(u) > max {
		u = u[:max]
	}
	return u
}

// resolve brings a pending job to an end: it submits it if BigQuery does
// not know it, waits for it, and writes the outcome to the ledger.
// records are the barge-records of the partition's objects, by name.
func (l *Loader) resolve(ctx context.Context, d *ledger, gen int64, j *jobRecord, res *CycleResult, records map[string]int64) error {
	job, err := l.lookup(ctx, j.ID)
	if errors.Is(err, errJobNotFound) {
		if j.Kind != kindCopy {
			if err := l.relay(ctx, j.Objects); err != nil {
				return err
			}
		}
		job, err = l.submit(ctx, j)
		if err == nil {
			l.log.Info("submitted job", "job", j.ID, "destination", l.cfg.Dataset+"."+j.Destination, "objects", j.Count)
		}
	} else if err == nil {
		l.accepted.Store(true)
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return l.unsubmitted(ctx, d, gen, j, err, res)
	}
	out, err := l.wait(ctx, job)
	if err != nil {
		return err
	}
	if out.failed {
		out.err = l.explain(0, out.reason, out.err)
	}
	if j.Kind == kindCopy {
		l.mu.Lock()
		n, ok := l.stageRows[j.Staging]
		l.mu.Unlock()
		out.rows, out.rowsKnown = n, ok
	}
	return l.settle(ctx, d, gen, j, out, res, records)
}

// unsubmitted records a claim whose job could not be submitted or looked
// up: the error and its time go into the pending record. An insert
// refused as invalid is tried maxDataRefusals times, with backoff, and
// then failed as a job refused for its data (bisected); a claim refused
// maxClaimAttempts times in all is released (failed, its objects free for
// a new claim), never retried forever.
func (l *Loader) unsubmitted(ctx context.Context, d *ledger, gen int64, j *jobRecord, err error, res *CycleResult) error {
	var ie *insertError
	refused := errors.As(err, &ie)
	j.Attempts++
	j.ErrorAt = l.now().UTC()
	if refused {
		j.Error = ie.msg
	} else {
		j.Error = "look up job " + j.ID + ": " + l.describe(err)
	}
	table := l.cfg.Project + ":" + l.cfg.Dataset + "." + j.Destination
	if refused && ie.data && j.Attempts >= maxDataRefusals {
		out := outcome{done: true, failed: true, data: j.Kind == kindLoad, err: ie.msg, errs: apiErrors(ie.err)}
		if out.data && len(j.Objects) == 1 && !l.accepted.Load() && !d.hasDone() {
			// Nothing of this loader was ever accepted: the request may
			// be wrong, not this object. It goes to the back, after the
			// others, and the partition waits for the next cycle; it is
			// quarantined once any job is accepted.
			out.data = false
			if len(d.Groups) > 0 && sameSet(d.Groups[0], j.Objects) {
				d.Groups = append(d.Groups[1:], j.Objects)
			}
			l.log.Warn("BigQuery refuses a single object, and has accepted no job of this loader yet: not quarantined until another job is accepted", "object", l.sourceURI(j.Objects[0]), "table", table, "err", ie.msg)
			if err := l.settle(ctx, d, gen, j, out, res, nil); err != nil {
				return err
			}
			return ie
		}
		return l.settle(ctx, d, gen, j, out, res, nil)
	}
	if refused && j.Attempts >= maxClaimAttempts {
		l.log.Error("claim released: its insert was refused every time", "job", j.ID, "table", table, "attempts", j.Attempts, "err", ie.msg)
		if err := l.settle(ctx, d, gen, j, outcome{done: true, failed: true, transient: true, err: ie.msg, errs: apiErrors(ie.err)}, res, nil); err != nil {
			return err
		}
		return err
	}
	if _, werr := l.store.write(ctx, d, gen); werr != nil {
		return werr // errConflict: another loader moved on; read again
	}
	if refused && ie.data {
		// Counted once, when it is failed (settle) or left for later.
		wait := time.Duration(1<<(j.Attempts-1)) * 500 * time.Millisecond
		l.log.Warn("BigQuery refused the job at insert: trying again", "job", j.ID, "table", table, "partition", d.Partition, "objects", j.Count, "attempt", j.Attempts, "retry_in", wait.String(), "err", ie.msg)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		return errAgain
	}
	res.fail(fmt.Sprintf("partition %s: job %s: %s", d.Partition, j.ID, j.Error))
	l.log.Error("job not submitted: the claim stays and is tried again next cycle", "job", j.ID, "table", table, "partition", d.Partition, "attempt", j.Attempts, "err", j.Error)
	return err
}

// apiErrors turns an API error's items into job errors, for isolate.
func apiErrors(err error) []*bq.Error {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		return nil
	}
	var out []*bq.Error
	for _, it := range ge.Errors {
		out = append(out, &bq.Error{Message: it.Message, Reason: it.Reason})
	}
	if len(out) == 0 {
		out = append(out, &bq.Error{Message: ge.Message})
	}
	return out
}

// hasDone reports whether the partition has a done job.
func (d *ledger) hasDone() bool {
	for _, j := range d.Jobs {
		if j.State == stateDone {
			return true
		}
	}
	return false
}

// settle writes a finished job's outcome. A replay, and with verify_rows
// an append, is verified first: a mismatch is recorded in the ledger and
// returned.
func (l *Loader) settle(ctx context.Context, d *ledger, gen int64, j *jobRecord, out outcome, res *CycleResult, records map[string]int64) error {
	now := l.now().UTC()
	j.Finished = now
	var quarantined []string
	bisected := false
	var verr error
	if !out.failed {
		j.State = stateDone
		j.Rows = out.rows
		j.RowsUnknown = !out.rowsKnown
		j.Error, j.ErrorAt = "", time.Time{}
		if j.Kind != kindLoad {
			// A replay rebuilt the partition from exactly these objects
			// (quarantined ones stay quarantined: objects never change).
			// The committed set follows from the job records when the
			// ledger is read again.
			d.Rows, d.RowsUnknown = 0, false
			d.Groups = nil
			d.Check = nil
			for _, o := range j.Objects {
				delete(d.Quarantined, o) // loaded now (--retry-quarantined)
			}
		}
		d.Rows += out.rows
		d.RowsUnknown = d.RowsUnknown || !out.rowsKnown
		if records != nil && (j.Kind != kindLoad || l.cfg.VerifyRows) {
			committed := j.Objects
			if j.Kind == kindLoad {
				committed = make([]string, 0, len(d.Committed)+len(j.Objects))
				for o := range d.Committed {
					committed = append(committed, o)
				}
				committed = append(committed, j.Objects...)
			}
			var c *rowCheck
			c, verr = l.verify(ctx, d, j, out, committed, records)
			if c != nil {
				d.Check = c
				if c.OK && c.By == byCount {
					d.Rows, d.RowsUnknown = c.Got, false
				}
			}
		}
	} else {
		j.State = stateFailed
		j.Error = out.err
		j.ErrorAt = now
		j.Errors = errorStrings(out.errs)
		j.Transient = out.transient
		d.Failures++
		// Only a refusal of the data isolates objects; any other failure
		// (access, quota, a missing table) tries the same objects again.
		if out.data && j.Kind == kindLoad {
			quarantined, bisected = l.isolate(d, j, out)
		}
	}
	// Logged and counted only once the outcome is in the ledger: a replica
	// that loses the write reads the winner's record instead.
	if _, err := l.store.write(ctx, d, gen); err != nil {
		return err
	}
	res.Jobs++
	if !out.failed {
		res.Objects += j.Count
		res.Rows += out.rows
		if !out.rowsKnown {
			res.RowsUnknown++
		}
		l.log.Info("committed job", "job", j.ID, "partition", d.Partition, "objects", j.Count, "rows", rowsValue(out.rows, out.rowsKnown))
		if verr != nil {
			res.fail(verr.Error())
			l.log.Error("partition rows do not match the archive", "table", l.cfg.Project+":"+l.table, "partition", d.Partition, "job", j.ID, "err", verr)
		}
		return verr
	}
	res.fail(fmt.Sprintf("partition %s: job %s: %s", d.Partition, j.ID, out.err))
	l.log.Error("job failed", "job", j.ID, "table", l.cfg.Project+":"+l.cfg.Dataset+"."+j.Destination, "partition", d.Partition, "objects", j.Count, "err", out.err, "transient", out.transient)
	for _, n := range quarantined {
		l.log.Error("object quarantined: BigQuery refused its data", "object", l.sourceURI(n), "job", j.ID, "err", out.err)
	}
	if bisected {
		l.log.Warn("bisecting a failed batch to find the objects BigQuery refuses", "job", j.ID, "objects", len(j.Objects))
	}
	return nil
}

// rowsValue is a row count for logs: the number, or "?" when the server
// did not report it.
func rowsValue(n int64, known bool) any {
	if !known {
		return "?"
	}
	return n
}

// isolate handles a load that failed for its data: objects BigQuery names
// are quarantined and the rest tried again; without names the batch is
// bisected, down to single objects, which are quarantined. It returns the
// objects quarantined, or whether the batch was bisected.
func (l *Loader) isolate(d *ledger, j *jobRecord, out outcome) (quarantined []string, bisected bool) {
	in := map[string]bool{}
	for _, o := range j.Objects {
		in[o] = true
	}
	var named []string
	for _, u := range badURIs(out.errs) {
		if name, ok := strings.CutPrefix(u, l.uri("")); ok && in[name] {
			named = append(named, name)
		}
	}
	if len(named) == 0 && len(j.Objects) == 1 {
		named = j.Objects
	}
	// Drop the failed set's own group, if it was one.
	if len(d.Groups) > 0 && sameSet(d.Groups[0], j.Objects) {
		d.Groups = d.Groups[1:]
	}
	if len(named) > 0 {
		if d.Quarantined == nil {
			d.Quarantined = map[string]*quarantine{}
		}
		bad := map[string]bool{}
		for _, n := range named {
			bad[n] = true
			d.Quarantined[n] = &quarantine{Job: j.ID, At: j.Finished, Errors: j.Errors}
		}
		var rest []string
		for _, o := range j.Objects {
			if !bad[o] {
				rest = append(rest, o)
			}
		}
		if len(rest) > 0 {
			d.Groups = append([][]string{rest}, d.Groups...)
		}
		return named, false
	}
	half := len(j.Objects) / 2
	a := append([]string(nil), j.Objects[:half]...)
	b := append([]string(nil), j.Objects[half:]...)
	d.Groups = append([][]string{a, b}, d.Groups...)
	return nil, true
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replayCommand is the command that loads partition id again.
func (l *Loader) replayCommand(id string) string {
	path := l.configPath
	if path == "" {
		path = "FILE"
	}
	return fmt.Sprintf("barge replay -c %s --loader %s --partition %s", shellQuote(path), shellQuote(l.cfg.Name), id)
}

// rebuildCommand is the command that rebuilds this loader's ledgers.
func (l *Loader) rebuildCommand() string {
	path := l.configPath
	if path == "" {
		path = "FILE"
	}
	return fmt.Sprintf("barge ledger rebuild -c %s --loader %s", shellQuote(path), shellQuote(l.cfg.Name))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
