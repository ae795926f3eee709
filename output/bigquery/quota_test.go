package bigquery

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/output/internal/bqtest"
)

// dayResult is what a simulated day of producers and one loader gave.
type dayResult struct {
	jobs      int             // load jobs submitted (bqtest counts them)
	objects   int             // objects uploaded
	committed int             // objects committed by the end
	latencies []time.Duration // upload to commit, per object
	perDay    map[string]int  // jobs counted in the ledger's budget, by UTC day
}

// simulateDay runs producers that each upload an object every flush
// seconds for one UTC day and a loader with the given interval and budget,
// on a fake clock. The ledger lives in fake-gcs-server and jobs go to the
// BigQuery test server; only the bucket listing is simulated (a day of 200
// producers is 1.7 million objects, more than the emulator can hold), and
// the objects hold no rows (the test server reads them as empty).
func simulateDay(t testing.TB, producers int, flush, interval time.Duration, budget int) dayResult {
	e := newEnvWith(t, bqtest.Options{Project: "proj", Open: func(ctx context.Context, bucket, object string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("")), nil
	}})
	e.createTable("time")
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	l := e.loader(func(c *Config) {
		c.LoadInterval = interval
		c.MaxJobsPerTablePerDay = budget
	})
	// Object names start with their upload time, so the inventory is
	// sorted by name as it grows and an object's upload time is in its
	// name.
	var inv []object
	uploaded := func(name string) time.Time {
		sec, err := strconv.ParseInt(name[:strings.IndexByte(name, '/')], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.Unix(sec, 0)
	}
	// The listing: objects of the open partitions, this hour's and the
	// last (lateness 1h), as a source prefix with the hour in it lists.
	l.lister = func(context.Context) ([]object, error) {
		from := e.clock.Now().Truncate(time.Hour).Add(-time.Hour)
		i := sort.Search(len(inv), func(i int) bool { return !inv[i].Created.Before(from) })
		return inv[i:len(inv):len(inv)], nil
	}
	res := dayResult{}
	seen := map[string]bool{} // settled jobs already counted
	next := day
	end := day.Add(24*time.Hour + 2*time.Hour) // the day, then its last partition's lateness
	for now := day.Add(interval); !now.After(end); now = now.Add(interval) {
		for ; !next.After(now) && next.Before(day.Add(24*time.Hour)); next = next.Add(flush) {
			// The objects of the flush window before next, uploaded at next.
			part := partHour.id(next.Add(-time.Second))
			for p := 0; p < producers; p++ {
				inv = append(inv, object{Name: fmt.Sprintf("%d/p%03d.gz", next.Unix(), p), Created: next, Partition: part, Gzip: true})
				res.objects++
			}
		}
		e.clock.Set(now)
		e.cycle(l)
		// The jobs settled in this cycle committed their objects now. Jobs
		// settle only in open partitions: this hour's and, within the
		// lateness of an hour, the last.
		for _, p := range []string{partHour.id(now), partHour.id(now.Add(-time.Hour))} {
			d, _, err := l.store.read(context.Background(), l.table, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range d.Jobs {
				if j.State != stateDone || seen[j.ID] {
					continue
				}
				seen[j.ID] = true
				objs, err := l.store.objects(context.Background(), l.table, p, j.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, name := range objs {
					res.committed++
					res.latencies = append(res.latencies, now.Sub(uploaded(name)))
				}
			}
		}
	}
	res.jobs = len(e.bqs.Jobs())
	res.perDay = map[string]int{}
	for _, d := range []time.Time{day, day.Add(24 * time.Hour)} {
		n, err := l.store.used(context.Background(), l.table, d)
		if err != nil {
			t.Fatal(err)
		}
		res.perDay[d.Format("20060102")] = n
	}
	return res
}

func TestQuotaHoldsForADayOf200Producers(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: simulates 1.7 million objects")
	}
	const budget = 200
	// load_interval 5m is 288 cycles with up to two open partitions each:
	// more jobs than the budget allows. (BenchmarkLoaderDay runs the day
	// at 1m too, with the default budget.)
	r := simulateDay(t, 200, 10*time.Second, 5*time.Minute, budget)
	t.Logf("%d objects, %d jobs, %d committed, budget used per UTC day %v", r.objects, r.jobs, r.committed, r.perDay)
	// The simulation runs two hours into the next UTC day, which has a
	// budget of its own.
	sum := 0
	for day, n := range r.perDay {
		if n > budget {
			t.Errorf("%s: %d jobs, budget %d", day, n, budget)
		}
		sum += n
	}
	if r.jobs > sum {
		t.Errorf("%d jobs submitted but only %d counted in the budget", r.jobs, sum)
	}
	if r.committed != r.objects {
		t.Errorf("%d of %d objects committed: batches must grow instead", r.committed, r.objects)
	}
	if n := r.perDay["20261122"]; n < budget*3/4 {
		t.Errorf("only %d jobs of a budget of %d on the day: the pacing wastes it", n, budget)
	}
}

// BenchmarkLoaderDay simulates a UTC day of producers uploading an object
// every 10 s and one loader, and reports the README's figures: jobs per
// table per day, objects per job, and the time from an object's upload to
// its commit (median, p99). The clock is simulated, so the latencies are
// the loader's own (cycle timing, pacing, batching); the BigQuery test
// server runs each job at once, where BigQuery takes seconds. Run with
//
//	go test ./output/bigquery -run '^$' -bench LoaderDay -benchtime 1x
func BenchmarkLoaderDay(b *testing.B) {
	for _, c := range []struct {
		name      string
		producers int
		interval  time.Duration
	}{
		{"defaults/producers=1", 1, 5 * time.Minute},
		{"defaults/producers=200", 200, 5 * time.Minute},
		{"load_interval=1m/producers=1", 1, time.Minute},
		{"load_interval=1m/producers=200", 200, time.Minute},
	} {
		b.Run(c.name, func(b *testing.B) {
			var r dayResult
			for b.Loop() {
				r = simulateDay(b, c.producers, 10*time.Second, c.interval, DefaultConfig().MaxJobsPerTablePerDay)
			}
			if r.committed != r.objects {
				b.Fatalf("%d of %d objects committed", r.committed, r.objects)
			}
			lat := append([]time.Duration(nil), r.latencies...)
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			day := r.perDay["20261122"]
			if limit := DefaultConfig().MaxJobsPerTablePerDay; day > limit {
				b.Fatalf("%d jobs on the day, max_jobs_per_table_per_day %d", day, limit)
			}
			b.ReportMetric(float64(day), "jobs/day")
			b.ReportMetric(float64(r.objects)/float64(r.jobs), "objects/job")
			b.ReportMetric(lat[len(lat)/2].Seconds(), "p50-upload-to-commit-s")
			b.ReportMetric(lat[len(lat)*99/100].Seconds(), "p99-upload-to-commit-s")
		})
	}
}
