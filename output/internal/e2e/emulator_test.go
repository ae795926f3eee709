package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/internal/bqemu"
)

// TestForwardToBigQueryEmulator is the whole path against
// github.com/goccy/bigquery-emulator: records sent with acks to one barge
// process, its gcs output archiving them in fake-gcs-server, its loader
// committing the objects; the table's row count equals the records sent.
func TestForwardToBigQueryEmulator(t *testing.T) {
	g := startGCS(t)
	g.fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "archive"})
	em := bqemu.Start(t, bqemu.Options{Project: "proj", StorageEmulatorHost: g.fake.URL()})
	c := em.Client(t)
	createEventsTable(t, c)
	config := fmt.Sprintf(`<source>
  @type forward
  bind 127.0.0.1
  port 0
</source>
<match app.**>
  @type gcs
  @id archive
  bucket archive
  path logs/%%Y%%m%%d/${tag}/
  # the emulator reads gzip only as Content-Encoding gzip
  transcoding true
%s</match>
<loader bq>
  @type bigquery
  project proj
  dataset logs
  table events
  source_output archive
  partition_type HOUR
  partition_field time
  endpoint %s
  load_interval 2s
  poll_interval 100ms
</loader>
`, strings.Replace(loadableArchive, "<buffer time>", "<buffer tag,time>", 1), em.URL)
	p := startBargeEnv(t, t.TempDir(), config, []string{"STORAGE_EMULATOR_HOST=" + strings.TrimPrefix(g.fake.URL(), "http://")})
	const n = 500
	bargetest.SendAcked(t, p.Addr, "app.emu", 0, n)
	// Each commit is followed by a count, until the rows are all there.
	var got int64
	for k := 1; got < n; k++ {
		p.WaitNth(60*time.Second, k, msgIs("committed job"))
		got = countRows(t, c)
	}
	if got != n {
		t.Fatalf("table has %d rows, sent %d", got, n)
	}
	if code := p.Stop(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func countRows(t *testing.T, c *bq.Client) int64 {
	t.Helper()
	return countTable(t, c, "SELECT COUNT(*) FROM `proj.logs.events`")
}
