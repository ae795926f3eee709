package bqtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
)

// Options configures a Server. The zero value is usable for table
// operations; loads need Storage or Open.
type Options struct {
	Project  string          // default "test-project"
	Storage  *storage.Client // reads gs:// source URIs and expands wildcards
	Location string          // default "US"; jobs report it
	// Open, when set, replaces Storage for reading one source object
	// (wildcard URIs still need Storage to be listed). It returns
	// storage.ErrObjectNotExist (or an error wrapping it) for a missing
	// object.
	Open func(ctx context.Context, bucket, object string) (io.ReadCloser, error)
}

// Server is the in-process BigQuery REST test server. All its methods are
// safe for concurrent use.
type Server struct {
	opts Options
	http *httptest.Server

	mu       sync.Mutex
	datasets map[string]*dataset // by project + "." + dataset id
	jobs     []*job              // in insert order
	jobByKey map[string]*job     // by project + ":" + job id
	attempts int
	failN    int
	failCode int
	refuse   func(uris []string) string
	noConfig bool
	hold     bool
	held     []*job
	changed  chan struct{} // closed and replaced whenever jobs change
	etagSeq  int
}

// Start starts a Server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Project == "" {
		opts.Project = "test-project"
	}
	if opts.Location == "" {
		opts.Location = "US"
	}
	s := &Server{
		opts:     opts,
		datasets: map[string]*dataset{},
		jobByKey: map[string]*job{},
		changed:  make(chan struct{}),
	}
	s.http = httptest.NewServer(s.routes())
	t.Cleanup(s.http.Close)
	return s
}

// URL is the endpoint for option.WithEndpoint: "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.http.URL }

// Client is a real BigQuery client of this server, without credentials,
// closed when the test ends.
func (s *Server) Client(t testing.TB) *bigquery.Client {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), s.opts.Project,
		option.WithEndpoint(s.URL()), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("bigquery client of %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"", "/bigquery/v2"} {
		pp := p + "/projects/{project}"
		mux.HandleFunc("GET "+pp+"/datasets/{dataset}", s.getDataset)
		mux.HandleFunc("POST "+pp+"/datasets", s.insertDataset)
		mux.HandleFunc("DELETE "+pp+"/datasets/{dataset}", s.deleteDataset)
		mux.HandleFunc("GET "+pp+"/datasets/{dataset}/tables", s.listTables)
		mux.HandleFunc("POST "+pp+"/datasets/{dataset}/tables", s.insertTable)
		mux.HandleFunc("GET "+pp+"/datasets/{dataset}/tables/{table}", s.getTable)
		mux.HandleFunc("PATCH "+pp+"/datasets/{dataset}/tables/{table}", s.patchTable)
		mux.HandleFunc("PUT "+pp+"/datasets/{dataset}/tables/{table}", s.patchTable)
		mux.HandleFunc("DELETE "+pp+"/datasets/{dataset}/tables/{table}", s.deleteTable)
		mux.HandleFunc("POST "+pp+"/jobs", s.insertJob)
		mux.HandleFunc("GET "+pp+"/jobs", s.listJobs)
		mux.HandleFunc("GET "+pp+"/jobs/{job}", s.getJob)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errNotFound(fmt.Sprintf("Not found: %s %s is not a route of this BigQuery test server", r.Method, r.URL.Path)))
	})
	return mux
}

// notifyLocked wakes WaitJobs callers. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// JobInfo describes one job created on the server.
type JobInfo struct {
	ID               string
	Type             string // "load" or "copy"
	Destination      string // "ds.table" or "ds.table$P"
	SourceURIs       []string
	SourceTables     []string // copy: "ds.table" or "ds.table$P"
	WriteDisposition string   // with BigQuery's default filled in
	State            string   // PENDING, RUNNING or DONE
	Err              string   // errorResult message of a failed job
	OutputRows       int64
	Inserted         time.Time
}

// Jobs lists every job created, in insert order.
func (s *Server) Jobs() []JobInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]JobInfo, 0, len(s.jobs))
	for _, j := range s.jobs {
		out = append(out, j.info())
	}
	return out
}

// InsertAttempts counts every jobs.insert request, including those
// answered with an error (409, injected failures, invalid requests).
func (s *Server) InsertAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// FailInserts makes the next n jobs.insert requests answer status with a
// Google JSON error body, creating nothing.
func (s *Server) FailInserts(n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failCode = n, status
}

// RefuseInserts makes jobs.insert of a load job answer HTTP 400 invalid,
// creating nothing, when refuse returns a message for its source URIs: a
// server that checks the data at insert, as the BigQuery emulator does.
// nil turns it off.
func (s *Server) RefuseInserts(refuse func(uris []string) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = refuse
}

// ListWithoutConfiguration makes jobs.list leave every job's
// configuration out, even with projection=full, as the BigQuery emulator
// does; jobs.get still has it.
func (s *Server) ListWithoutConfiguration(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noConfig = on
}

// HoldJobs(true) makes new jobs stay RUNNING without being executed.
// HoldJobs(false) executes the held jobs, in insert order, before it
// returns.
func (s *Server) HoldJobs(hold bool) {
	s.mu.Lock()
	s.hold = hold
	var run []*job
	if !hold {
		run, s.held = s.held, nil
	}
	s.mu.Unlock()
	for _, j := range run {
		s.execute(j)
	}
}

// WaitJobs waits until at least n jobs exist.
func (s *Server) WaitJobs(n int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		have, ch := len(s.jobs), s.changed
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("bqtest: %d jobs after %v, want %d", have, timeout, n)
		}
	}
}

// WaitDone waits until at least n jobs exist and all of them are DONE.
func (s *Server) WaitDone(n int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		have, done, ch := len(s.jobs), 0, s.changed
		for _, j := range s.jobs {
			if j.res.Status.State == stateDone {
				done++
			}
		}
		s.mu.Unlock()
		if have >= n && done == have {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("bqtest: %d jobs, %d done after %v, want %d done", have, done, timeout, n)
		}
	}
}

// WaitRows waits until a table of the default project holds at least n
// rows. Rows change only when a job finishes, which wakes it.
func (s *Server) WaitRows(dataset, table string, n int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		have, ch := 0, s.changed
		if t := s.tableLocked(s.opts.Project, dataset, table); t != nil {
			have = len(t.rows)
		}
		s.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("bqtest: %s.%s has %d rows after %v, want %d", dataset, table, have, timeout, n)
		}
	}
}

// Rows returns every row of a table of the default project, in the order
// they were written. Values are the decoded JSON values as loaded
// (string, json.Number, bool, map[string]any, []any, nil), keyed by the
// schema's column names; columns absent from the source row are absent.
// Each row also has "_PARTITION": its partition id ("" for a table that
// is not partitioned).
func (s *Server) Rows(dataset, table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(s.opts.Project, dataset, table)
	if t == nil {
		return nil
	}
	out := make([]map[string]any, 0, len(t.rows))
	for _, r := range t.rows {
		m := deepCopy(r.values).(map[string]any)
		m["_PARTITION"] = r.partition
		out = append(out, m)
	}
	return out
}

// PartitionIDs lists the ids of the non-empty partitions of a table,
// sorted.
func (s *Server) PartitionIDs(dataset, table string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(s.opts.Project, dataset, table)
	if t == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, r := range t.rows {
		if !seen[r.partition] {
			seen[r.partition] = true
			out = append(out, r.partition)
		}
	}
	sort.Strings(out)
	return out
}

// DeletePartitionRows removes the rows of one partition behind the API's
// back (a broken warehouse) and returns how many it removed.
func (s *Server) DeletePartitionRows(dataset, table, partition string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tableLocked(s.opts.Project, dataset, table)
	if t == nil {
		return 0
	}
	kept := t.rows[:0:0]
	for _, r := range t.rows {
		if r.partition != partition {
			kept = append(kept, r)
		}
	}
	n := len(t.rows) - len(kept)
	t.rows = kept
	if n > 0 {
		s.touchLocked(t)
	}
	return n
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = deepCopy(e)
		}
		return a
	default:
		return v
	}
}

func nowMillis(t time.Time) int64 { return t.UnixMilli() }

func upper(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
