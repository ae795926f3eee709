package bqtest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	bq "google.golang.org/api/bigquery/v2"
)

const (
	statePending = "PENDING"
	stateRunning = "RUNNING"
	stateDone    = "DONE"
)

type job struct {
	project  string
	res      *bq.Job // guarded by Server.mu
	inserted time.Time
}

// outcome is what executing a job gave.
type outcome struct {
	err  *apiError        // errorResult: the job failed
	errs []*bq.ErrorProto // status.errors
	load *bq.JobStatistics3
	cp   *bq.JobStatistics5
}

func failed(e *apiError) outcome { return outcome{err: e} }

var jobIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (j *job) info() JobInfo {
	c := j.res.Configuration
	in := JobInfo{ID: j.res.JobReference.JobId, State: j.res.Status.State, Inserted: j.inserted}
	if e := j.res.Status.ErrorResult; e != nil {
		in.Err = e.Message
	}
	ref := func(r *bq.TableReference) string {
		if r == nil {
			return ""
		}
		return r.DatasetId + "." + r.TableId
	}
	switch {
	case c.Load != nil:
		in.Type = "load"
		in.Destination = ref(c.Load.DestinationTable)
		in.SourceURIs = slices.Clone(c.Load.SourceUris)
		in.WriteDisposition = orDefault(c.Load.WriteDisposition, "WRITE_APPEND")
		if st := j.res.Statistics; st != nil && st.Load != nil {
			in.OutputRows = st.Load.OutputRows
		}
	case c.Copy != nil:
		in.Type = "copy"
		in.Destination = ref(c.Copy.DestinationTable)
		for _, r := range copySources(c.Copy) {
			in.SourceTables = append(in.SourceTables, ref(r))
		}
		in.WriteDisposition = orDefault(c.Copy.WriteDisposition, "WRITE_EMPTY")
		if st := j.res.Statistics; st != nil && st.Copy != nil {
			in.OutputRows = st.Copy.CopiedRows
		}
	}
	return in
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return upper(s)
}

func copySources(c *bq.JobConfigurationTableCopy) []*bq.TableReference {
	var out []*bq.TableReference
	if c.SourceTable != nil {
		out = append(out, c.SourceTable)
	}
	return append(out, c.SourceTables...)
}

func (s *Server) insertJob(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("project")
	s.mu.Lock()
	s.attempts++
	if s.failN > 0 {
		s.failN--
		code := s.failCode
		s.mu.Unlock()
		writeError(w, &apiError{code: code, reason: reasonFor(code), message: fmt.Sprintf("bqtest: injected failure (HTTP %d)", code)})
		return
	}
	s.mu.Unlock()
	var in bq.Job
	if !readJSON(w, r, &in) {
		return
	}
	if err := validateJob(&in); err != nil {
		writeError(w, err)
		return
	}
	s.mu.Lock()
	refuse := s.refuse
	s.mu.Unlock()
	if c := in.Configuration; refuse != nil && c.Load != nil {
		if msg := refuse(c.Load.SourceUris); msg != "" {
			writeError(w, errInvalid(msg))
			return
		}
	}
	ref := in.JobReference
	if ref == nil {
		ref = &bq.JobReference{}
	}
	loc := ref.Location
	if loc == "" {
		loc = s.opts.Location
	}

	s.mu.Lock()
	id := ref.JobId
	if id == "" {
		id = fmt.Sprintf("bqtest_job_%d", len(s.jobs)+1)
	}
	key := p + ":" + id
	if old := s.jobByKey[key]; old != nil {
		s.mu.Unlock()
		writeError(w, errDuplicate(fmt.Sprintf("Already Exists: Job %s:%s.%s", p, old.res.JobReference.Location, id)))
		return
	}
	now := time.Now()
	cfg := clone(in.Configuration)
	switch {
	case cfg.Load != nil:
		cfg.JobType = "LOAD"
	case cfg.Copy != nil:
		cfg.JobType = "COPY"
	}
	s.etagSeq++
	j := &job{project: p, inserted: now, res: &bq.Job{
		Kind:          "bigquery#job",
		Etag:          fmt.Sprintf("\"bqtest-%d\"", s.etagSeq),
		Id:            p + ":" + loc + "." + id,
		SelfLink:      s.URL() + "/bigquery/v2/projects/" + p + "/jobs/" + id + "?location=" + loc,
		UserEmail:     "bqtest@localhost",
		JobReference:  &bq.JobReference{ProjectId: p, JobId: id, Location: loc},
		Configuration: cfg,
		Status:        &bq.JobStatus{State: stateRunning},
		Statistics:    &bq.JobStatistics{CreationTime: nowMillis(now), StartTime: nowMillis(now)},
	}}
	s.jobs = append(s.jobs, j)
	s.jobByKey[key] = j
	s.notifyLocked()
	if s.hold {
		s.held = append(s.held, j)
		resp := clone(j.res)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
		return
	}
	s.mu.Unlock()
	s.execute(j)
	s.mu.Lock()
	resp := clone(j.res)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// validateJob checks what BigQuery rejects with HTTP 400 at jobs.insert.
func validateJob(in *bq.Job) *apiError {
	if in.JobReference != nil && in.JobReference.JobId != "" && (len(in.JobReference.JobId) > 1024 || !jobIDRE.MatchString(in.JobReference.JobId)) {
		return errInvalid(fmt.Sprintf("Invalid job ID %q. Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.", in.JobReference.JobId))
	}
	c := in.Configuration
	if c == nil || (c.Load == nil && c.Copy == nil) {
		return errInvalid("bqtest: this test server runs only load and copy jobs (configuration.load or configuration.copy)")
	}
	if c.DryRun {
		return errInvalid("bqtest: dry runs are not supported by this test server")
	}
	if c.Load != nil {
		return validateLoad(c.Load)
	}
	return validateCopy(c.Copy)
}

func validateDispositions(write, create string) *apiError {
	switch upper(write) {
	case "", "WRITE_APPEND", "WRITE_TRUNCATE", "WRITE_EMPTY":
	default:
		return errInvalid(fmt.Sprintf("Invalid value for writeDisposition: %s (this test server supports WRITE_APPEND, WRITE_TRUNCATE and WRITE_EMPTY)", write))
	}
	switch upper(create) {
	case "", "CREATE_IF_NEEDED", "CREATE_NEVER":
	default:
		return errInvalid(fmt.Sprintf("Invalid value for createDisposition: %s", create))
	}
	return nil
}

func validateTableRef(what string, r *bq.TableReference) *apiError {
	if r == nil || r.DatasetId == "" || r.TableId == "" {
		return errInvalid(fmt.Sprintf("%s must specify a dataset and a table", what))
	}
	return nil
}

func validateLoad(l *bq.JobConfigurationLoad) *apiError {
	if err := validateTableRef("Load configuration destinationTable", l.DestinationTable); err != nil {
		return err
	}
	if n := len(l.SourceUris); n == 0 {
		return errInvalid("Load configuration must specify at least one source URI")
	} else if n > 10000 {
		return errInvalid(fmt.Sprintf("Too many sources provided: %d. Limit is 10000.", n))
	}
	for _, u := range l.SourceUris {
		b, o, ok := strings.Cut(strings.TrimPrefix(u, "gs://"), "/")
		if !strings.HasPrefix(u, "gs://") || !ok || b == "" || o == "" {
			return errInvalid(fmt.Sprintf("Invalid source URI: %s. This test server reads gs://bucket/object URIs only.", u))
		}
		if strings.Count(o, "*") > 1 {
			return errInvalid(fmt.Sprintf("Invalid source URI: %s. Only one wildcard is allowed per URI.", u))
		}
	}
	switch f := upper(l.SourceFormat); f {
	case "NEWLINE_DELIMITED_JSON", "JSON":
	default:
		if f == "" {
			f = "CSV (the default)"
		}
		return errInvalid(fmt.Sprintf("bqtest: source format %s is not supported by this test server; use NEWLINE_DELIMITED_JSON", f))
	}
	if l.MaxBadRecords < 0 {
		return errInvalid("Invalid value for maxBadRecords: it must not be negative")
	}
	if err := validateDispositions(l.WriteDisposition, l.CreateDisposition); err != nil {
		return err
	}
	for _, o := range l.SchemaUpdateOptions {
		if o != "ALLOW_FIELD_ADDITION" && o != "ALLOW_FIELD_RELAXATION" {
			return errInvalid(fmt.Sprintf("Invalid schema update option: %s", o))
		}
	}
	if len(l.SchemaUpdateOptions) > 0 {
		_, _, dec := splitDecorator(l.DestinationTable.TableId)
		switch wd := upper(l.WriteDisposition); {
		case wd == "" || wd == "WRITE_APPEND":
		case wd == "WRITE_TRUNCATE" && dec:
		default:
			return errInvalid("Schema update options should only be specified with WRITE_APPEND disposition, or with WRITE_TRUNCATE disposition on a table partition.")
		}
	}
	return nil
}

func validateCopy(c *bq.JobConfigurationTableCopy) *apiError {
	if err := validateTableRef("Copy configuration destinationTable", c.DestinationTable); err != nil {
		return err
	}
	srcs := copySources(c)
	if len(srcs) == 0 {
		return errInvalid("Copy configuration must specify at least one source table")
	}
	for _, r := range srcs {
		if err := validateTableRef("Copy configuration sourceTables", r); err != nil {
			return err
		}
	}
	if op := upper(c.OperationType); op != "" && op != "COPY" {
		return errInvalid(fmt.Sprintf("bqtest: copy operationType %s is not supported by this test server", c.OperationType))
	}
	return validateDispositions(c.WriteDisposition, c.CreateDisposition)
}

// execute runs a job and records its outcome.
func (s *Server) execute(j *job) {
	s.mu.Lock()
	cfg := clone(j.res.Configuration)
	p, loc := j.project, j.res.JobReference.Location
	j.res.Status.State = stateRunning
	j.res.Statistics.StartTime = nowMillis(time.Now())
	s.notifyLocked()
	s.mu.Unlock()

	var out outcome
	if cfg.Load != nil {
		out = s.runLoad(p, loc, cfg.Load)
	} else {
		out = s.runCopy(p, loc, cfg.Copy)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	st := j.res.Status
	st.State = stateDone
	if out.err != nil {
		st.ErrorResult = out.err.proto()
		if len(out.errs) == 0 {
			out.errs = []*bq.ErrorProto{out.err.proto()}
		}
	}
	st.Errors = out.errs
	stats := j.res.Statistics
	stats.EndTime = nowMillis(time.Now())
	stats.Load = out.load
	stats.Copy = out.cp
	s.notifyLocked()
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	p, id := r.PathValue("project"), r.PathValue("job")
	loc := r.URL.Query().Get("location")
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobByKey[p+":"+id]
	if j == nil || (loc != "" && !strings.EqualFold(loc, j.res.JobReference.Location)) {
		if loc == "" {
			loc = s.opts.Location
		}
		writeError(w, errNotFound(fmt.Sprintf("Not found: Job %s:%s.%s", p, loc, id)))
		return
	}
	writeJSON(w, http.StatusOK, j.res)
}

// listJobs is jobs.list: newest first, with stateFilter, min/maxCreationTime,
// maxResults and pageToken (an offset). allUsers is accepted and ignored.
func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("project")
	q := r.URL.Query()
	states := map[string]bool{}
	for _, st := range q["stateFilter"] {
		states[upper(st)] = true
	}
	minT, _ := strconv.ParseInt(q.Get("minCreationTime"), 10, 64)
	maxT, _ := strconv.ParseInt(q.Get("maxCreationTime"), 10, 64)
	maxResults, _ := strconv.Atoi(q.Get("maxResults"))
	if maxResults <= 0 || maxResults > 1000 {
		maxResults = 1000
	}
	offset, _ := strconv.Atoi(q.Get("pageToken"))
	full := q.Get("projection") == "full"

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*job
	for i := len(s.jobs) - 1; i >= 0; i-- {
		j := s.jobs[i]
		ct := j.res.Statistics.CreationTime
		if j.project != p || (len(states) > 0 && !states[j.res.Status.State]) ||
			(minT > 0 && ct < minT) || (maxT > 0 && ct > maxT) {
			continue
		}
		match = append(match, j)
	}
	out := &bq.JobList{Kind: "bigquery#jobList"}
	if offset > len(match) {
		offset = len(match)
	}
	end := min(offset+maxResults, len(match))
	for _, j := range match[offset:end] {
		lj := &bq.JobListJobs{
			Kind: "bigquery#job", Id: j.res.Id, JobReference: j.res.JobReference,
			State: j.res.Status.State, Status: j.res.Status, Statistics: j.res.Statistics,
			ErrorResult: j.res.Status.ErrorResult, UserEmail: j.res.UserEmail,
		}
		if full && !s.noConfig {
			lj.Configuration = j.res.Configuration
		}
		out.Jobs = append(out.Jobs, lj)
	}
	if end < len(match) {
		out.NextPageToken = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, out)
}
