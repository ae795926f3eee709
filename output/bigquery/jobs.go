package bigquery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// jobID derives a job's id from everything that defines it: a retried
// claim of the same objects gets the same id, so BigQuery itself refuses
// a second run. attempt separates a new try after a failed job.
func jobID(kind, table, dest string, objects []string, staging string, attempt int) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00", kind, table, dest, staging, attempt)
	for _, o := range objects {
		h.Write([]byte(o))
		h.Write([]byte{0})
	}
	return "barge_" + kind + "_" + hex.EncodeToString(h.Sum(nil))[:40]
}

// outcome is what became of a job.
type outcome struct {
	done      bool // finished (successfully or not)
	failed    bool
	transient bool // a failure worth retrying as is
	data      bool // BigQuery refused the objects' data (reason "invalid")
	rows      int64
	rowsKnown bool // the server reported rows (load statistics)
	reason    string
	err       string
	errs      []*bq.Error
}

// submit inserts the job a record describes. A job that exists already
// (409: a crashed loader or another replica submitted it) is adopted.
func (l *Loader) submit(ctx context.Context, j *jobRecord) (*bq.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	ds := l.bq.Dataset(l.cfg.Dataset)
	var job *bq.Job
	var err error
	switch j.Kind {
	case kindCopy:
		c := ds.Table(j.Destination).CopierFrom(ds.Table(j.Staging))
		c.JobID = j.ID
		c.Location = l.cfg.Location
		c.WriteDisposition = bq.WriteTruncate
		c.CreateDisposition = bq.CreateNever
		job, err = c.Run(ctx)
	default:
		uris := make([]string, len(j.Objects))
		for i, o := range j.Objects {
			uris[i] = l.uri(o)
		}
		ld := l.loader(ds.Table(j.Destination), uris, j.Kind)
		ld.JobID = j.ID
		job, err = ld.Run(ctx)
	}
	if err == nil {
		l.accepted.Store(true)
		return job, nil
	}
	if isCode(err, http.StatusConflict) || alreadyCreated(err) {
		l.log.Info("job exists already: adopting it", "job", j.ID)
		return l.lookup(ctx, j.ID)
	}
	return nil, l.refusal(j, err)
}

// alreadyCreated recognises a reused job id that a server answers with
// 400 instead of 409 (the BigQuery emulator: "job ... is already
// created").
func alreadyCreated(err error) bool {
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusBadRequest {
		return false
	}
	m := strings.ToLower(ge.Message)
	return strings.Contains(m, "already created") || strings.Contains(m, "already exists: job")
}

// insertError is a jobs.insert that did not create a job: refused by the
// server, or never answered.
type insertError struct {
	job   string
	table string // PROJECT:DATASET.TABLE
	err   error
	// data: the request was refused as invalid (HTTP 400), which for a
	// load of archived objects may be their data (servers that check the
	// data at insert) or their URIs; a refusal that repeats for the same
	// batch is bisected. Anything else (5xx, rate limits, access, a
	// missing dataset or table, no answer) keeps its objects and retries.
	data bool
	// msg is one line a person can act on.
	msg string
}

func (e *insertError) Error() string {
	return fmt.Sprintf("insert job %s into %s: %s", e.job, e.table, e.msg)
}

func (e *insertError) Unwrap() error { return e.err }

// refusal classifies a failed jobs.insert.
func (l *Loader) refusal(j *jobRecord, err error) *insertError {
	e := &insertError{job: j.ID, table: l.cfg.Project + ":" + l.cfg.Dataset + "." + j.Destination, err: err, msg: l.describe(err)}
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusBadRequest {
		e.data = true
		for _, it := range ge.Errors {
			if transientReason(it.Reason) && it.Reason != "jobInternalError" {
				e.data = false // a 400 rate limit
			}
		}
	}
	return e
}

// describe turns an API error into one line that says what to check.
func (l *Loader) describe(err error) string {
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Sprintf("no answer from BigQuery at %s within request_timeout %v: %v", l.endpointName(), l.cfg.RequestTimeout, err)
		}
		return fmt.Sprintf("cannot reach BigQuery at %s: %v", l.endpointName(), err)
	}
	msg := ge.Message
	reason := ""
	if len(ge.Errors) > 0 {
		reason = ge.Errors[0].Reason
		if msg == "" {
			msg = ge.Errors[0].Message
		}
	}
	return l.explain(ge.Code, reason, msg)
}

// explain says what an error of BigQuery (HTTP code, 0 for a failed
// job's, reason, message) asks the user to check.
func (l *Loader) explain(code int, reason, msg string) string {
	loader := "<loader " + l.cfg.Name + ">"
	notFound := code == http.StatusNotFound || reason == "notFound"
	switch {
	case notFound && strings.Contains(msg, "Dataset"):
		return fmt.Sprintf("dataset %q not found in project %s: check %s dataset (and location) [%s]", l.cfg.Dataset, l.projectName(), loader, msg)
	case notFound && strings.Contains(msg, "Table"):
		return fmt.Sprintf("table %q not found in project %s: check %s table, or set auto_create_table true [%s]", l.cfg.Dataset+"."+l.cfg.Table, l.projectName(), loader, msg)
	case reason == "rateLimitExceeded" || reason == "quotaExceeded" || code == http.StatusTooManyRequests:
		return fmt.Sprintf("BigQuery rate limit or quota: %s (retried later)", msg)
	case reason == "accessDenied" || code == http.StatusForbidden || code == http.StatusUnauthorized:
		return fmt.Sprintf("access denied: %s: check the credentials of %s (json_key) and their roles on dataset %s (BigQuery Job User, Data Editor)", msg, loader, l.cfg.Dataset)
	case code >= 500:
		return fmt.Sprintf("BigQuery server error %d: %s (retried later)", code, msg)
	case code == 0:
		return msg
	}
	if reason != "" {
		return fmt.Sprintf("HTTP %d %s: %s", code, reason, msg)
	}
	return fmt.Sprintf("HTTP %d: %s", code, msg)
}

func (l *Loader) projectName() string {
	if l.cfg.Project != "" {
		return l.cfg.Project
	}
	if l.bq != nil {
		return l.bq.Project()
	}
	return "(default)"
}

func (l *Loader) endpointName() string {
	if l.cfg.Endpoint != "" {
		return l.cfg.Endpoint
	}
	return "https://bigquery.googleapis.com"
}

// loader builds the load job of a record.
func (l *Loader) loader(dst *bq.Table, uris []string, kind string) *bq.Loader {
	ref := bq.NewGCSReference(uris...)
	ref.SourceFormat = bq.JSON
	ref.MaxBadRecords = int64(l.cfg.MaxBadRecords)
	ref.IgnoreUnknownValues = l.cfg.IgnoreUnknownValues
	ref.AutoDetect = l.cfg.AutoDetect
	if l.schema != nil {
		ref.Schema = l.schema
	}
	ld := dst.LoaderFrom(ref)
	ld.Location = l.cfg.Location
	ld.WriteDisposition = bq.WriteAppend
	if kind == kindReplay {
		ld.WriteDisposition = bq.WriteTruncate
	}
	ld.CreateDisposition = bq.CreateNever
	if l.cfg.AutoCreateTable {
		ld.CreateDisposition = bq.CreateIfNeeded
		ld.TimePartitioning = l.timePartitioning()
		ld.Clustering = l.clustering()
	}
	ld.SchemaUpdateOptions = l.cfg.SchemaUpdateOptions
	return ld
}

func (l *Loader) timePartitioning() *bq.TimePartitioning {
	tp := &bq.TimePartitioning{Field: l.cfg.PartitionField}
	switch l.part {
	case partHour:
		tp.Type = bq.HourPartitioningType
	case partMonth:
		tp.Type = bq.MonthPartitioningType
	default:
		tp.Type = bq.DayPartitioningType
	}
	return tp
}

func (l *Loader) clustering() *bq.Clustering {
	if len(l.cfg.ClusteringFields) == 0 {
		return nil
	}
	return &bq.Clustering{Fields: l.cfg.ClusteringFields}
}

// lookup finds a job by id; errJobNotFound when BigQuery has none.
func (l *Loader) lookup(ctx context.Context, id string) (*bq.Job, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	job, err := l.bq.JobFromIDLocation(ctx, id, l.cfg.Location)
	if isCode(err, http.StatusNotFound) {
		return nil, errJobNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return job, nil
}

var errJobNotFound = errors.New("bigquery: job not found")

// wait polls a job until it is done.
func (l *Loader) wait(ctx context.Context, job *bq.Job) (outcome, error) {
	logged := false
	for {
		sctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
		st, err := job.Status(sctx)
		cancel()
		if err != nil {
			return outcome{}, fmt.Errorf("get job %s: %w", job.ID(), err)
		}
		if st.Done() {
			return jobOutcome(st), nil
		}
		if !logged {
			l.log.Info("waiting for job", "job", job.ID(), "state", stateName(st.State))
			logged = true
		}
		t := time.NewTimer(l.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return outcome{}, ctx.Err()
		case <-t.C:
		}
	}
}

func jobOutcome(st *bq.JobStatus) outcome {
	o := outcome{done: true}
	if st.Statistics != nil {
		if ls, ok := st.Statistics.Details.(*bq.LoadStatistics); ok {
			o.rows, o.rowsKnown = ls.OutputRows, true
		}
	}
	if err := st.Err(); err != nil {
		o.failed = true
		o.err = err.Error()
		var be *bq.Error
		if errors.As(err, &be) {
			o.err, o.reason = be.Message, be.Reason
			o.transient = transientReason(be.Reason)
			o.data = be.Reason == "invalid"
		}
		o.errs = st.Errors
	}
	return o
}

// transientReason lists BigQuery error reasons worth a plain retry.
func transientReason(r string) bool {
	switch r {
	case "backendError", "internalError", "jobBackendError", "jobInternalError", "rateLimitExceeded", "quotaExceeded", "timeout":
		return true
	}
	return false
}

func stateName(s bq.State) string {
	switch s {
	case bq.Pending:
		return "PENDING"
	case bq.Running:
		return "RUNNING"
	case bq.Done:
		return "DONE"
	}
	return "UNKNOWN"
}

func isCode(err error, code int) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == code
}

// badURIs returns the source URIs BigQuery's errors name.
func badURIs(errs []*bq.Error) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		for _, s := range []string{e.Location, e.Message} {
			i := strings.Index(s, "gs://")
			if i < 0 {
				continue
			}
			u := s[i:]
			if k := strings.IndexAny(u, " ,;\"'"); k >= 0 {
				u = u[:k]
			}
			u = strings.TrimRight(u, ".")
			if !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

func errorStrings(errs []*bq.Error) []string {
	var out []string
	for _, e := range errs {
		s := e.Message
		if e.Location != "" {
			s = e.Location + ": " + s
		}
		if e.Reason != "" {
			s += " (" + e.Reason + ")"
		}
		out = append(out, s)
		if len(out) == 20 {
			out = append(out, fmt.Sprintf("... and %d more", len(errs)-20))
			break
		}
	}
	return out
}
