package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/iterator"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/internal/bqemu"
)

// TestOnPremExampleToBigQueryEmulator runs examples/onprem-bigquery.conf,
// with only its paths, bucket, project, endpoint and intervals pointed at
// this test: @type files ships directories of JSON documents (json_path
// $.task, one record per task), the gcs output archives them in
// fake-gcs-server with key_style bigquery, and the loader commits them to
// the BigQuery emulator. The table holds one row per task, and "#TH"
// arrived as the column _TH.
func TestOnPremExampleToBigQueryEmulator(t *testing.T) {
	example, err := os.ReadFile("../../../examples/onprem-bigquery.conf")
	if err != nil {
		t.Fatal(err)
	}
	g := startGCS(t)
	g.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "archive"})
	em := bqemu.Start(t, bqemu.Options{Project: "proj", StorageEmulatorHost: g.fake.URL()})
	c := em.Client(t)
	createTopTable(t, c)

	dir := t.TempDir()
	export := filepath.Join(dir, "export")
	if err := os.MkdirAll(export, 0o755); err != nil {
		t.Fatal(err)
	}
	// Three documents: the issue's own, and two of 20 tasks each.
	want := map[string]string{"7931": "23", "4729": "31"} // PID -> #TH
	writeDoc(t, filepath.Join(export, "top-0001.json"), `{"sys": [["Processes: 543 total", "3 running"]], "task": [{"PID": "7931", "COMMAND": "com.docker.hyper", "CPU": "0.0", "#TH": "23", "MEM": "1495M"}, {"PID": "4729", "COMMAND": "VirtualBoxVM", "CPU": "1.2", "#TH": "31", "MEM": "812M"}]}`)
	for f := range 2 {
		var tasks []string
		for i := range 20 {
			pid := fmt.Sprint(10000 + f*100 + i)
			want[pid] = fmt.Sprint(i + 1)
			tasks = append(tasks, fmt.Sprintf(`{"PID": %q, "COMMAND": "proc%d", "CPU": "0.%d", "#TH": "%d", "MEM": "%dM"}`, pid, i, i, i+1, 10*i))
		}
		writeDoc(t, filepath.Join(export, fmt.Sprintf("top-%04d.json", f+2)),
			`{"sys": [["Processes: 1 total"]], "task": [`+strings.Join(tasks, ", ")+`]}`)
	}

	config := pointAt(t, string(example), [][2]string{
		{"path /data/export/*.json", "path " + filepath.Join(export, "*.json")},
		{"pos_file /var/lib/barge/export.pos", "pos_file " + filepath.Join(dir, "export.pos")},
		{"settle_time 5s", "settle_time 500ms"},
		{"refresh_interval 10s", "refresh_interval 1s"},
		{"error_dir /data/export/failed", "error_dir " + filepath.Join(dir, "failed")},
		{"bucket my-onprem-logs", "bucket archive"},
		{"path /var/lib/barge/buffer/archive", "path " + filepath.Join(dir, "buffer")},
		{"flush_interval 30s", "flush_interval 1s"},
		{"project my-project", "project proj"},
		{"load_interval 5m", "load_interval 2s\n  poll_interval 100ms\n  endpoint " + em.URL},
	})
	p := bargetest.StartCommand(t, bargeBin, dir, config,
		[]string{"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(g.fake.URL(), "http://")}, "run")
	var got int64
	for k := 1; got < int64(len(want)); k++ {
		p.WaitNth(90*time.Second, k, msgIs("committed job"))
		got = countTable(t, c, "SELECT COUNT(*) FROM `proj.onprem.top`")
	}
	if got != int64(len(want)) {
		t.Fatalf("table has %d rows, the documents %d tasks", got, len(want))
	}
	// Every task once, with its #TH under _TH.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := c.Query("SELECT PID, _TH FROM `proj.onprem.top`").Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for {
		var row []bq.Value
		err := it.Next(&row)
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pid, th := fmt.Sprint(row[0]), fmt.Sprint(row[1])
		if _, dup := seen[pid]; dup {
			t.Errorf("PID %s loaded twice", pid)
		}
		seen[pid] = th
	}
	for pid, th := range want {
		if seen[pid] != th {
			t.Errorf("PID %s: _TH %q, want %q", pid, seen[pid], th)
		}
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// createTopTable makes the dataset onprem and its table top, HOUR
// partitioned on time, with the columns of the example's documents.
func createTopTable(t *testing.T, c *bq.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Dataset("onprem").Create(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var schema bq.Schema
	for _, col := range []string{"PID", "COMMAND", "CPU", "_TH", "MEM"} {
		schema = append(schema, &bq.FieldSchema{Name: col, Type: bq.StringFieldType})
	}
	schema = append(schema, &bq.FieldSchema{Name: "time", Type: bq.TimestampFieldType})
	err := c.Dataset("onprem").Table("top").Create(ctx, &bq.TableMetadata{
		Schema:           schema,
		TimePartitioning: &bq.TimePartitioning{Type: bq.HourPartitioningType, Field: "time"},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func countTable(t *testing.T, c *bq.Client, query string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it, err := c.Query(query).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var row []bq.Value
	if err := it.Next(&row); err != nil {
		t.Fatal(err)
	}
	return row[0].(int64)
}

func writeDoc(t *testing.T, path, doc string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pointAt replaces each line of an example config that holds old[0] by
// old[1], failing when one is missing, so the example and the test stay
// in step.
func pointAt(t *testing.T, config string, subs [][2]string) string {
	t.Helper()
	lines := strings.Split(config, "\n")
	for _, s := range subs {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == s[0] })
		if i < 0 {
			t.Fatalf("the example has no line %q", s[0])
		}
		indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " "))]
		lines[i] = indent + s[1]
	}
	return strings.Join(lines, "\n")
}
