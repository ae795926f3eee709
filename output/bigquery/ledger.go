package bigquery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
)

// The ledger is one JSON object per table partition in the bucket,
// PREFIX/DATASET.TABLE/PARTITION.json (the head), written only with a
// generation precondition: a writer that read an older version loses and
// reads again. The object list of each job is a manifest of its own,
// PREFIX/DATASET.TABLE/PARTITION/JOB_ID.json, written once before the job
// is claimed and never changed, so the head stays small however many
// objects a partition has, and a loader reads each manifest once.
// That makes every state change a compare-and-swap, so any number of
// loader replicas share one ledger:
//
//  1. claim: a pending job record (deterministic id, object list, kind,
//     destination) is written before the job is submitted;
//  2. submit: jobs.insert with that id; BigQuery refuses a reused id
//     (409), and the loader then adopts the existing job;
//  3. settle: the job's outcome is written, the objects become committed.
//
// A crash between any two steps leaves a pending record that the next
// loader resolves by looking the job up: not found means it was never
// submitted and is submitted now, with the same id; found means it is
// adopted. No object is ever loaded twice.
type ledger struct {
	Version   int    `json:"version"`
	Table     string `json:"table"`
	Partition string `json:"partition"`
	// Committed maps each loaded object name to the id of its job: the
	// objects of the done jobs since the last replay, from their manifests.
	Committed map[string]string `json:"-"`
	// Rows is the number of rows the committed objects produced;
	// RowsUnknown says a job of them did not report its rows (and no
	// count replaced the sum since), so Rows is a lower bound.
	Rows        int64 `json:"rows"`
	RowsUnknown bool  `json:"rows_unknown,omitempty"`
	// Check is the latest comparison of the partition's rows in the table
	// with what the archive says it holds.
	Check *rowCheck `json:"check,omitempty"`
	// Quarantined objects failed to load on their own; they are skipped
	// until a replay.
	Quarantined map[string]*quarantine `json:"quarantined,omitempty"`
	// Groups are object sets split from a failed batch (bisection): each
	// is tried as a job of its own before new objects.
	Groups [][]string `json:"groups,omitempty"`
	// Jobs are the most recent job records, the pending one included.
	Jobs []*jobRecord `json:"jobs"`
	// Failures counts failed jobs of this partition.
	Failures int `json:"failures"`
}

// rowCheck is one verification of a partition's rows.
type rowCheck struct {
	Job      string    `json:"job"` // the job after which it ran
	At       time.Time `json:"at"`
	Expected int64     `json:"expected"` // from the objects' barge-records
	Got      int64     `json:"got"`
	By       string    `json:"by"` // "job statistics" or "COUNT(*)"
	OK       bool      `json:"ok"`
}

type quarantine struct {
	Job    string    `json:"job"`
	At     time.Time `json:"at"`
	Errors []string  `json:"errors"`
}

// Job kinds and states.
const (
	kindLoad   = "load"   // WRITE_APPEND of new objects
	kindReplay = "replay" // WRITE_TRUNCATE of table$PARTITION from all objects
	kindCopy   = "copy"   // staging table copied over table$PARTITION

	statePending = "pending"
	stateDone    = "done"
	stateFailed  = "failed"
)

// jobRecord describes a job completely, so that any loader can submit it
// again after a crash.
type jobRecord struct {
	ID          string   `json:"id"`
	Kind        string   `json:"kind"`
	Destination string   `json:"destination"` // table or table$PARTITION
	Objects     []string `json:"-"`           // in the manifest
	Count       int      `json:"count"`
	Staging     string   `json:"staging,omitempty"` // copy: source table
	State       string   `json:"state"`
	Rows        int64    `json:"rows,omitempty"`
	RowsUnknown bool     `json:"rows_unknown,omitempty"` // the server did not report them
	// Error is the job's failure, or for a pending claim the last refusal
	// of its insert (ErrorAt is when; Attempts counts them).
	Error     string    `json:"error,omitempty"`
	ErrorAt   time.Time `json:"error_at,omitzero"`
	Attempts  int       `json:"attempts,omitempty"`
	Errors    []string  `json:"errors,omitempty"`
	Transient bool      `json:"transient,omitempty"`
	Claimed   time.Time `json:"claimed"`
	Finished  time.Time `json:"finished,omitzero"`
	By        string    `json:"by,omitempty"` // host of the loader that claimed it
}

// maxFailedRecords bounds the failed jobs kept in a ledger. Done jobs are
// all kept: their manifests are the committed set.
const maxFailedRecords = 50

func newLedger(table, partition string) *ledger {
	return &ledger{Version: 1, Table: table, Partition: partition, Committed: map[string]string{}}
}

// pending returns the pending job, if any.
func (d *ledger) pending() *jobRecord {
	for _, j := range d.Jobs {
		if j.State == statePending {
			return j
		}
	}
	return nil
}

// last returns the most recent job record.
func (d *ledger) last() *jobRecord {
	if len(d.Jobs) == 0 {
		return nil
	}
	return d.Jobs[len(d.Jobs)-1]
}

// addJob appends a record and trims the failed history.
func (d *ledger) addJob(j *jobRecord) {
	d.Jobs = append(d.Jobs, j)
	failed := 0
	for _, j := range d.Jobs {
		if j.State == stateFailed {
			failed++
		}
	}
	for i := 0; failed > maxFailedRecords && i < len(d.Jobs); {
		if d.Jobs[i].State == stateFailed {
			d.Jobs = append(d.Jobs[:i], d.Jobs[i+1:]...)
			failed--
			continue
		}
		i++
	}
}

// live returns the done jobs that make up the committed set: those since
// the last replay (which rebuilt the partition), in order.
func (d *ledger) live() []*jobRecord {
	from := 0
	for i, j := range d.Jobs {
		if j.State == stateDone && j.Kind != kindLoad {
			from = i
		}
	}
	var out []*jobRecord
	for _, j := range d.Jobs[from:] {
		if j.State == stateDone {
			out = append(out, j)
		}
	}
	return out
}

// failedIDs returns the ids of the failed jobs: a job id that failed is
// never reused; the next try of the same objects gets attempt+1.
func (d *ledger) failedIDs() map[string]bool {
	m := map[string]bool{}
	for _, j := range d.Jobs {
		if j.State == stateFailed {
			m[j.ID] = true
		}
	}
	return m
}

// uncommitted returns the loadable objects of the partition that are
// neither committed, quarantined nor part of a pending job, sorted.
func (d *ledger) uncommitted(objs []object) []string {
	var out []string
	for _, o := range objs {
		if o.Problem != "" {
			continue
		}
		if _, ok := d.Committed[o.Name]; ok {
			continue
		}
		if _, ok := d.Quarantined[o.Name]; ok {
			continue
		}
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out
}

// errConflict says the ledger changed since it was read.
var errConflict = errors.New("bigquery: ledger changed by another loader")

// ledgerStore reads and writes ledger objects with generation
// preconditions.
type ledgerStore struct {
	gcs    *storage.Client
	bucket string
	prefix string // ends with "/"

	mu sync.Mutex
	// manifests caches job manifests by partition, then job id.
	manifests map[string]map[string][]string

	cmu  sync.Mutex
	sets map[string]*committedSet // by partition
}

func (s *ledgerStore) manifestName(table, partition, job string) string {
	return s.prefix + table + "/" + partition + "/" + job + ".json"
}

type manifest struct {
	Job     string   `json:"job"`
	Objects []string `json:"objects"`
}

// writeManifest stores a job's object list, once: a manifest that exists
// already has this content, since the job id derives from it.
func (s *ledgerStore) writeManifest(ctx context.Context, table, partition string, j *jobRecord) error {
	name := s.manifestName(table, partition, j.ID)
	data, err := json.Marshal(manifest{Job: j.ID, Objects: j.Objects})
	if err != nil {
		return err
	}
	if _, err := s.put(ctx, name, 0, data); err != nil && !isPrecondition(err) {
		return fmt.Errorf("write job manifest gs://%s/%s: %w", s.bucket, name, err)
	}
	s.remember(partition, j.ID, j.Objects)
	return nil
}

func (s *ledgerStore) remember(partition, job string, objs []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifests == nil {
		s.manifests = map[string]map[string][]string{}
	}
	if s.manifests[partition] == nil {
		s.manifests[partition] = map[string][]string{}
	}
	s.manifests[partition][job] = objs
}

// objects returns a job's object list from its manifest.
func (s *ledgerStore) objects(ctx context.Context, table, partition, job string) ([]string, error) {
	s.mu.Lock()
	objs, ok := s.manifests[partition][job]
	s.mu.Unlock()
	if ok {
		return objs, nil
	}
	name := s.manifestName(table, partition, job)
	r, err := s.gcs.Bucket(s.bucket).Object(name).NewReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("read job manifest gs://%s/%s: %w", s.bucket, name, err)
	}
	defer r.Close()
	var m manifest
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("job manifest gs://%s/%s: %w", s.bucket, name, err)
	}
	s.remember(partition, job, m.Objects)
	return m.Objects, nil
}

// committedSet is a partition's committed set as built from a list of
// live jobs, kept so that a read adds only the objects of jobs done since.
type committedSet struct {
	jobs []string
	set  map[string]string
}

// committed returns the committed set of the live jobs: object name to
// job id. The map is shared with later reads: callers must not change it.
func (s *ledgerStore) committed(ctx context.Context, table, partition string, live []*jobRecord) (map[string]string, error) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	c := s.sets[partition]
	if c == nil || len(c.jobs) > len(live) || !sameJobs(c.jobs, live[:len(c.jobs)]) {
		// First read, or a replay started the set over.
		c = &committedSet{set: map[string]string{}}
	}
	for _, j := range live[len(c.jobs):] {
		objs, err := s.objects(ctx, table, partition, j.ID)
		if err != nil {
			return nil, err
		}
		// Extended in place: a ledger read earlier then shows objects
		// committed since, which they are. A Loader is used by one
		// goroutine at a time.
		for _, o := range objs {
			c.set[o] = j.ID
		}
		c.jobs = append(c.jobs, j.ID)
	}
	if s.sets == nil {
		s.sets = map[string]*committedSet{}
	}
	s.sets[partition] = c
	return c.set, nil
}

func sameJobs(ids []string, jobs []*jobRecord) bool {
	for i, id := range ids {
		if jobs[i].ID != id {
			return false
		}
	}
	return true
}

// forget drops the cached manifests and committed sets of partitions not
// in keep.
func (s *ledgerStore) forget(keep map[string]bool) {
	s.cmu.Lock()
	for p := range s.sets {
		if !keep[p] {
			delete(s.sets, p)
		}
	}
	s.cmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range s.manifests {
		if !keep[p] {
			delete(s.manifests, p)
		}
	}
}

func (s *ledgerStore) name(table, partition string) string {
	return s.prefix + table + "/" + partition + ".json"
}

// read returns the ledger of a partition and its generation (0: none yet).
func (s *ledgerStore) read(ctx context.Context, table, partition string) (*ledger, int64, error) {
	name := s.name(table, partition)
	r, err := s.gcs.Bucket(s.bucket).Object(name).NewReader(ctx)
	if errors.Is(err, storage.ErrObjectNotExist) {
		return newLedger(table, partition), 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read ledger gs://%s/%s: %w", s.bucket, name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, fmt.Errorf("read ledger gs://%s/%s: %w", s.bucket, name, err)
	}
	d := newLedger(table, partition)
	if err := json.Unmarshal(data, d); err != nil {
		return nil, 0, fmt.Errorf("ledger gs://%s/%s is not a barge ledger: %w", s.bucket, name, err)
	}
	if d.Committed, err = s.committed(ctx, table, partition, d.live()); err != nil {
		return nil, 0, err
	}
	if j := d.pending(); j != nil {
		if j.Objects, err = s.objects(ctx, table, partition, j.ID); err != nil {
			return nil, 0, err
		}
	}
	return d, r.Attrs.Generation, nil
}

// write stores d if the object is still at generation gen (0: absent)
// and returns the new generation, or errConflict.
func (s *ledgerStore) write(ctx context.Context, d *ledger, gen int64) (int64, error) {
	name := s.name(d.Table, d.Partition)
	data, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return 0, err
	}
	gen, err = s.put(ctx, name, gen, data)
	if isPrecondition(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("write ledger gs://%s/%s: %w", s.bucket, name, err)
	}
	return gen, nil
}

// put writes a JSON object in one request, only if its generation is gen
// (0: only if it does not exist yet), and returns the new generation.
func (s *ledgerStore) put(ctx context.Context, name string, gen int64, data []byte) (int64, error) {
	cond := storage.Conditions{GenerationMatch: gen}
	if gen == 0 {
		cond = storage.Conditions{DoesNotExist: true}
	}
	w := s.gcs.Bucket(s.bucket).Object(name).If(cond).NewWriter(ctx)
	w.ContentType = "application/json"
	w.ChunkSize = 0 // one request
	_, err := w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return w.Attrs().Generation, nil
}

// partitions lists the partitions that have a ledger.
func (s *ledgerStore) partitions(ctx context.Context, table string) ([]string, error) {
	prefix := s.prefix + table + "/"
	it := s.gcs.Bucket(s.bucket).Objects(ctx, &storage.Query{Prefix: prefix, Delimiter: "/"})
	var out []string
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list ledger gs://%s/%s: %w", s.bucket, prefix, err)
		}
		if a.Name == "" {
			continue
		}
		n := a.Name[len(prefix):]
		if p, ok := strings.CutSuffix(n, ".json"); ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

func isPrecondition(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && (ge.Code == http.StatusPreconditionFailed || ge.Code == http.StatusConflict)
}
