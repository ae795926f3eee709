package bigquery

import (
	"fmt"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
)

func TestPartitionIDs(t *testing.T) {
	ts := time.Date(2026, 11, 22, 13, 4, 5, 0, time.FixedZone("JST", 9*3600))
	for _, c := range []struct {
		p         partitioning
		id        string
		start     time.Time
		end       time.Time
		badLength string
	}{
		{partHour, "2026112204", time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC), time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC), "20261122"},
		{partDay, "20261122", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), "2026112204"},
		{partMonth, "202611", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "20261122"},
	} {
		if got := c.p.id(ts); got != c.id {
			t.Errorf("%s id = %q, want %q", c.p, got, c.id)
		}
		st, err := c.p.start(c.id)
		if err != nil || !st.Equal(c.start) {
			t.Errorf("%s start(%q) = %v, %v; want %v", c.p, c.id, st, err, c.start)
		}
		if e := c.p.end(st); !e.Equal(c.end) {
			t.Errorf("%s end = %v, want %v", c.p, e, c.end)
		}
		if _, err := c.p.start(c.badLength); err == nil {
			t.Errorf("%s start(%q) accepted an id of another partitioning", c.p, c.badLength)
		}
	}
}

func TestParsePartitionID(t *testing.T) {
	for _, c := range []struct {
		p        partitioning
		in, want string // want "" for an error
	}{
		{partDay, "20261202", "20261202"},
		{partDay, "2026-12-02", "20261202"},
		{partDay, "2026-12-2", ""},
		{partDay, "2026120213", ""},
		{partHour, "2026120213", "2026120213"},
		{partHour, "2026-12-02T13", "2026120213"},
		{partHour, "2026-12-02", ""},
		{partMonth, "202612", "202612"},
		{partMonth, "2026-12", "202612"},
		{partMonth, "2026-13", ""},
	} {
		got, err := c.p.parseID(c.in)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("%s parseID(%q) = %q, %v; want %q", c.p, c.in, got, err, c.want)
		}
	}
	_, err := partDay.parseID("12/02/2026")
	if err == nil || err.Error() != `partition "12/02/2026" is not a DAY partition id: write YYYYMMDD, e.g. 20261202 (or 2026-12-02)` {
		t.Errorf("error %v does not say how to write the id", err)
	}
}

func TestSliceMatcher(t *testing.T) {
	m, err := newSliceMatcher("%Y%m%d%H")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m.find("logs/app/2026112213_3.gz")
	if !ok || !got.Equal(time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)) {
		t.Fatalf("find = %v %v", got, ok)
	}
	if _, ok := m.find("logs/app/latest.gz"); ok {
		t.Fatal("found a slice in a key without one")
	}
	// fluent-plugin-s3's default key with a dashed format.
	m, err = newSliceMatcher("%Y-%m-%d/%H")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m.find("archive/2026-11-22/07/part_0.gz"); !ok || got.Hour() != 7 || got.Day() != 22 {
		t.Fatalf("find = %v %v", got, ok)
	}
	for _, bad := range []string{"%m%d", "%Y%j", ""} {
		if _, err := newSliceMatcher(bad); err == nil {
			t.Errorf("newSliceMatcher(%q) accepted it", bad)
		}
	}
}

func FuzzSliceMatcher(f *testing.F) {
	f.Add("%Y%m%d%H", "logs/2026112213_0.gz")
	f.Add("%Y-%m-%d/%H", "a/2026-11-22/07/x")
	f.Add("%Y%%%m", "2026%11")
	f.Fuzz(func(t *testing.T, format, key string) {
		m, err := newSliceMatcher(format)
		if err != nil {
			return
		}
		ts, ok := m.find(key)
		if !ok {
			return
		}
		// What was found formats back to text that the key contains.
		if !strings.Contains(key, ts.Format(m.layout)) {
			t.Fatalf("found %v in %q, but %q is not in the key", ts, key, ts.Format(m.layout))
		}
	})
}

func TestPaceSpreadsTheBudget(t *testing.T) {
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	// Fresh day: the burst (1000/48 = 20 jobs) is there at once.
	for used := 0; used < 20; used++ {
		if d := pace(day, quotaDoc{Jobs: used}, 1000); !d.ok {
			t.Fatalf("fresh day, %d used: %+v", used, d)
		}
	}
	d := pace(day, quotaDoc{Jobs: 20}, 1000)
	// The 21st job waits for the first share of the day: 86.4 s.
	if d.ok || !d.paced || d.wait != 86400*time.Millisecond {
		t.Fatalf("burst spent: %+v", d)
	}
	// At noon 500+20 may have been used.
	noon := day.Add(12 * time.Hour)
	if d := pace(noon, quotaDoc{Jobs: 519}, 1000); !d.ok || d.left != 481 {
		t.Fatalf("noon, 519 used: %+v", d)
	}
	if d := pace(noon, quotaDoc{Jobs: 520}, 1000); d.ok || d.wait != 86400*time.Millisecond {
		t.Fatalf("noon, 520 used: %+v", d)
	}
	// Late in the day the allowance is capped by the limit itself.
	late := day.Add(23*time.Hour + 59*time.Minute)
	if d := pace(late, quotaDoc{Jobs: 999}, 1000); !d.ok {
		t.Fatalf("last job: %+v", d)
	}
	d = pace(late, quotaDoc{Jobs: 1000}, 1000)
	if d.ok || d.left != 0 || d.paced || d.wait != time.Minute {
		t.Fatalf("used up: %+v", d)
	}
	// A tiny budget still gets one job at once.
	if d := pace(day, quotaDoc{}, 1); !d.ok {
		t.Fatalf("limit 1: %+v", d)
	}
}

// TestPaceNeverExceedsTheLimit takes every job the pacing allows, once a
// second for a day.
func TestPaceNeverExceedsTheLimit(t *testing.T) {
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, limit := range []int{1, 7, 200, 1000, 1500} {
		q := quotaDoc{}
		for now := day; now.Before(day.Add(24 * time.Hour)); now = now.Add(time.Second) {
			if pace(now, q, limit).ok {
				q.Jobs++
			}
		}
		if q.Jobs != limit {
			t.Errorf("limit %d: %d jobs in a day of always asking", limit, q.Jobs)
		}
	}
}

func TestJobIDDeterministic(t *testing.T) {
	a := jobID(kindLoad, "p:d.t", "t", []string{"a", "b"}, "", 0)
	if a != jobID(kindLoad, "p:d.t", "t", []string{"a", "b"}, "", 0) {
		t.Fatal("same job, different ids")
	}
	for _, other := range []string{
		jobID(kindLoad, "p:d.t", "t", []string{"a", "c"}, "", 0),
		jobID(kindLoad, "p:d.t", "t", []string{"ab"}, "", 0),
		jobID(kindLoad, "p:d.t", "t", []string{"a", "b"}, "", 1),
		jobID(kindReplay, "p:d.t", "t", []string{"a", "b"}, "", 0),
		jobID(kindLoad, "p:d.t", "t$2026112213", []string{"a", "b"}, "", 0),
	} {
		if other == a {
			t.Fatalf("different jobs share id %s", a)
		}
	}
	if !strings.HasPrefix(a, "barge_load_") || len(a) > 1024 {
		t.Fatalf("id %q", a)
	}
}

func TestBadURIs(t *testing.T) {
	errs := []*bq.Error{
		{Location: "gs://b/logs/x.gz", Message: "JSON parsing error in row starting at position 0", Reason: "invalid"},
		{Message: "Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: 1; errors: 1.", Reason: "invalid"},
		{Message: "Error while reading data, error message: no such field: foo. File: gs://b/logs/y.gz", Reason: "invalid"},
		{Location: "gs://b/logs/x.gz", Message: "again", Reason: "invalid"},
	}
	got := badURIs(errs)
	if strings.Join(got, ",") != "gs://b/logs/x.gz,gs://b/logs/y.gz" {
		t.Fatalf("badURIs = %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Dataset, ok.Table, ok.Source = "logs", "events", "gs://bucket/logs/"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Dataset = "" }, "'dataset' is required"},
		{func(c *Config) { c.Table = "events$20261122" }, "'table'"},
		{func(c *Config) { c.Source = "" }, "'source'"},
		{func(c *Config) { c.Source = "s3://bucket/x/" }, "set 'staging'"},
		{func(c *Config) { c.Staging = "gs://stage/x/" }, "only for s3:// sources"},
		{func(c *Config) { c.SourceOutput = "gcs_out" }, "exclude each other"},
		{func(c *Config) { c.PartitionField = "event time" }, "'partition_field'"},
		{func(c *Config) { c.MaxJobsPerTablePerDay = 2000 }, "'max_jobs_per_table_per_day' 2000"},
		{func(c *Config) { c.MaxObjectsPerJob = 10001 }, "'max_objects_per_job'"},
		{func(c *Config) { c.SchemaPath, c.AutoDetect = "s.json", true }, "exclude each other"},
		{func(c *Config) { c.AutoCreateTable = true }, "'auto_create_table' needs"},
		{func(c *Config) { c.TimeSliceFormat = "%m%d" }, "'time_slice_format'"},
		{func(c *Config) { c.ClusteringFields = []string{"a", "b", "c", "d", "e"} }, "at most 4"},
	} {
		cfg := ok
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want error containing %q, got %v", c.want, err)
		}
	}
}

func TestLedgerLiveAndTrim(t *testing.T) {
	d := newLedger("d.t", "20261122")
	d.addJob(&jobRecord{ID: "a", Kind: kindLoad, State: stateDone})
	d.addJob(&jobRecord{ID: "r", Kind: kindReplay, State: stateDone})
	d.addJob(&jobRecord{ID: "b", Kind: kindLoad, State: stateDone})
	d.addJob(&jobRecord{ID: "f", Kind: kindLoad, State: stateFailed})
	var ids []string
	for _, j := range d.live() {
		ids = append(ids, j.ID)
	}
	if strings.Join(ids, ",") != "r,b" {
		t.Fatalf("live = %v: a replay must reset the committed set", ids)
	}
	for i := 0; i < maxFailedRecords+10; i++ {
		d.addJob(&jobRecord{ID: "x", Kind: kindLoad, State: stateFailed})
	}
	failed, done := 0, 0
	for _, j := range d.Jobs {
		switch j.State {
		case stateFailed:
			failed++
		case stateDone:
			done++
		}
	}
	if failed != maxFailedRecords || done != 3 {
		t.Fatalf("after trimming: %d failed, %d done records", failed, done)
	}
}

func TestPrefixTemplate(t *testing.T) {
	for _, c := range []struct {
		prefix, static string
		unit           byte
		err            string
	}{
		{"logs/", "", 0, ""},
		{"logs/%Y%m%d/", "logs/", 'd', ""},
		{"logs/%Y/%m/%d/%H/", "logs/", 'H', ""},
		{"a/b/x%Y-%m/", "a/b/", 'm', ""},
		{"logs/%m%d/", "", 0, "needs %Y"},
		{"logs/%Y%M/", "", 0, "not %M"},
		{"logs/%Y%", "", 0, "lone %"},
	} {
		tm, err := parsePrefixTemplate(c.prefix)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.prefix, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.prefix, err)
		case c.unit == 0:
			if tm != nil {
				t.Errorf("%q: a template %+v for a prefix without time", c.prefix, tm)
			}
		case tm.static != c.static || tm.unit != c.unit:
			t.Errorf("%q: static %q unit %c, want %q %c", c.prefix, tm.static, tm.unit, c.static, c.unit)
		}
	}
	tm, _ := parsePrefixTemplate("logs/%Y%m%d/")
	from := time.Date(2026, 11, 21, 23, 0, 0, 0, time.UTC)
	got := strings.Join(tm.prefixes(from, from.Add(90*time.Minute)), " ")
	if got != "logs/20261121/ logs/20261122/" {
		t.Fatalf("day prefixes: %s", got)
	}
	tm, _ = parsePrefixTemplate("logs/%Y/%m/%d/%H/")
	got = strings.Join(tm.prefixes(from.Add(30*time.Minute), from.Add(90*time.Minute)), " ")
	if got != "logs/2026/11/21/23/ logs/2026/11/22/00/" {
		t.Fatalf("hour prefixes: %s", got)
	}
}

func TestGroupByPartition(t *testing.T) {
	obj := func(name, part string) object { return object{Name: name, Partition: part} }
	describe := func(groups []partitionObjects) string {
		var parts []string
		for _, g := range groups {
			var names []string
			for _, o := range g.objs {
				names = append(names, o.Name)
			}
			parts = append(parts, g.id+":"+strings.Join(names, ","))
		}
		return strings.Join(parts, " ")
	}
	// Contiguous runs are sliced, interleaved partitions copied; the
	// result is the same.
	runs := []object{obj("a", "13"), obj("b", "13"), obj("c", "12"), obj("d", "")}
	if got := describe(groupByPartition(runs)); got != ":d 12:c 13:a,b" {
		t.Fatalf("runs: %s", got)
	}
	mixed := []object{obj("a", "13"), obj("b", "12"), obj("c", "13")}
	if partitionRuns(mixed) != nil {
		t.Fatal("interleaved partitions taken as runs")
	}
	if got := describe(groupByPartition(mixed)); got != "12:b 13:a,c" {
		t.Fatalf("mixed: %s", got)
	}
	if len(groupByPartition(nil)) != 0 {
		t.Fatal("groups of nothing")
	}
}

// A batch that BigQuery refuses without naming an object is bisected, down
// to the single object, which is quarantined; the rest goes on.
func TestIsolateBisects(t *testing.T) {
	l, err := New(func() Config {
		c := DefaultConfig()
		c.Dataset, c.Table, c.Source = "logs", "events", "gs://archive/logs/"
		return c
	}(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := newLedger(l.table, "2026112213")
	refused := outcome{failed: true, data: true, err: "JSON table encountered too many errors"}
	fail := func(objs ...string) (quarantined []string, bisected bool) {
		return l.isolate(d, &jobRecord{ID: "j", Objects: objs}, refused)
	}
	if q, b := fail("a", "b", "c", "d"); len(q) != 0 || !b {
		t.Fatalf("first failure: quarantined %v, bisected %v", q, b)
	}
	if next := d.nextBatch(nil, 100); strings.Join(next, ",") != "a,b" {
		t.Fatalf("next batch %v, want the first half", next)
	}
	fail("a", "b")
	if fmt.Sprint(d.Groups) != "[[a] [b] [c d]]" {
		t.Fatalf("groups %v", d.Groups)
	}
	if q, _ := fail("a"); len(q) != 1 || q[0] != "a" || d.Quarantined["a"] == nil {
		t.Fatalf("single object: quarantined %v", q)
	}
	// b and c,d are tried as they are; b is next.
	if next := d.nextBatch(nil, 100); strings.Join(next, ",") != "b" {
		t.Fatalf("next batch %v, want b", next)
	}
	// An error that names the object quarantines it at once.
	d = newLedger(l.table, "2026112213")
	named := refused
	named.errs = []*bq.Error{{Location: "gs://archive/logs/x", Message: "No such field: msg", Reason: "invalid"}}
	q, b := l.isolate(d, &jobRecord{ID: "j", Objects: []string{"logs/w", "logs/x", "logs/y"}}, named)
	if b || len(q) != 1 || q[0] != "logs/x" || fmt.Sprint(d.Groups) != "[[logs/w logs/y]]" {
		t.Fatalf("named: quarantined %v bisected %v groups %v", q, b, d.Groups)
	}
}
