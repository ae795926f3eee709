package e2e

import (
	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/output/internal/faultproxy"
)

// TestS3 runs the object-store cases against MinIO through the fault proxy.
func TestS3(t *testing.T) {
	srv := minioServer(t)
	runStoreTests(t, func(t *testing.T, bucket string) *store { return newS3Store(t, srv, bucket) })
}

// TestGCS runs the object-store cases against fake-gcs-server through the
// fault proxy.
func TestGCS(t *testing.T) {
	srv := startGCS(t)
	runStoreTests(t, func(t *testing.T, bucket string) *store { return newGCSStore(t, srv, bucket) })
}

// faultCase is barge flushing one chunk while the proxy injects faults.
type faultCase struct {
	name string
	// big: 700 records of 10 KiB, uncompressed: a 7 MiB chunk that goes as
	// an S3 multipart upload (5 MiB parts) or a GCS resumable upload
	// (256 KiB requests). Else 500 small records, gzip.
	big   bool
	rules func(s *store) []faultproxy.Rule
	// output adds <match> lines.
	output func(s *store) string
	// want: where the records end: "bucket", "secondary" (a <secondary>
	// file output) or "failed" (the buffer's failed/ directory).
	want string
	// refound: the store completed an upload whose answer barge never
	// got, so a retry must be refused with 412 (create-only) and counted
	// as done (for the stores listed).
	refound []string
}

var faultCases = []faultCase{
	{name: "503 storm", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 5, Fault: s.unavailable()}}
	}, want: "bucket"},
	{name: "429 slow down", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 3, Fault: s.slowDown()}}
	}, want: "bucket"},
	{name: "503 storm big", big: true, rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 5, Fault: s.unavailable()}}
	}, want: "bucket"},
	{name: "request reset mid-upload", big: true, rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 2, Fault: faultproxy.ResetRequest(100_000)}}
	}, want: "bucket"},
	// The store completed the upload; barge never heard of it, retries,
	// finds its own object (create-only: 412) and counts it as done.
	{name: "response reset", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 2, Fault: faultproxy.ResetResponse(0)}}
	}, want: "bucket", refound: []string{"s3", "gcs"}},
	{name: "response reset on commit", big: true, rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.commit, Times: 1, Fault: faultproxy.ResetResponse(0)}}
	}, want: "bucket", refound: []string{"s3", "gcs"}},
	{name: "response cut in headers", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 1, Fault: faultproxy.ResetResponse(20)}}
	}, want: "bucket", refound: []string{"s3", "gcs"}},
	// Slow responses: the upload completes, the answer comes 2 s later;
	// with gcs client_timeout 1s the client gives up first and retries.
	{name: "slow responses", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 2, Fault: faultproxy.DelayResponse(2 * time.Second)}}
	}, output: func(s *store) string {
		if s.kind == "gcs" {
			return "client_timeout 1s\n"
		}
		return ""
	}, want: "bucket", refound: []string{"gcs"}},
	{name: "403 to secondary", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 1, Fault: s.denied()}}
	}, want: "secondary"},
	{name: "403 to failed", rules: func(s *store) []faultproxy.Rule {
		return []faultproxy.Rule{{Match: s.upload, Times: 1, Fault: s.denied()}}
	}, want: "failed"},
}

func runStoreTests(t *testing.T, newStore func(t *testing.T, bucket string) *store) {
	for _, fc := range faultCases {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, newStore(t, bucketName(fc.name)), fc)
		})
	}
	t.Run("two processes", func(t *testing.T) {
		t.Parallel()
		testTwoProcesses(t, newStore(t, "e2e-two-processes"))
	})
	t.Run("kill -9 during uploads", func(t *testing.T) {
		t.Parallel()
		testKillDuringUploads(t, newStore(t, "e2e-kill"))
	})
	t.Run("kill -9 before commit", func(t *testing.T) {
		t.Parallel()
		testKillBeforeCommit(t, newStore(t, "e2e-kill-commit"))
	})
}

func bucketName(name string) string {
	r := strings.NewReplacer(" ", "-", "/", "-")
	return "e2e-" + r.Replace(strings.ToLower(name))
}

func runFaultCase(t *testing.T, s *store, fc faultCase) {
	dir := t.TempDir()
	n, send, out := 500, bargetest.SendAcked, "store_as gzip\n"
	if fc.big {
		n, send, out = 700, sendBig, "store_as txt\n  "+s.bigParams
	}
	if fc.output != nil {
		out += "  " + fc.output(s)
	}
	secondary := ""
	if fc.want == "secondary" {
		secondary = "<secondary>\n    @type file\n    path ./secondary/\n  </secondary>"
	}
	var handles []*faultproxy.Handle
	for _, r := range fc.rules(s) {
		handles = append(handles, s.proxy.Add(r))
	}
	p := startBargeEnv(t, dir, storeConfig(s, out, "", secondary), s.env)
	send(t, p.Addr, "app.fault", 0, n)

	switch fc.want {
	case "bucket":
		s.waitObjects(t, n, time.Minute)
		if code := p.Stop(25 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		objs := s.list(t)
		count := checkObjects(t, objs, n)
		if c := s.committedObjects(); c > count {
			t.Errorf("%d requests completed an object, for %d objects: an object was written twice\n%s", c, count, sortedKeys(objs))
		}
		s.checkNoOpenUploads(t)
		if slices.Contains(fc.refound, s.kind) && s.refused() == 0 {
			t.Errorf("no upload was refused with 412: the retry did not meet its own object")
		}
	case "secondary", "failed":
		l := p.WaitLog(30*time.Second, func(l map[string]any) bool { return l["msg"] == "flush failed permanently" })
		if !errContains(l, s.bucket+"/logs/app.fault/") {
			t.Errorf("the permanent error does not name bucket and key: %v", l["err"])
		}
		if fc.want == "secondary" {
			bargetest.CheckSeqs(t, bargetest.WaitRecords(t, filepath.Join(dir, "secondary"), n, 30*time.Second), n)
		} else {
			p.WaitLog(30*time.Second, func(l map[string]any) bool { return l["msg"] == "chunk kept in failed/" })
			if kept, _ := filepath.Glob(filepath.Join(dir, "buf", "failed", "*")); len(kept) == 0 {
				t.Error("no chunk in buf/failed/")
			}
		}
		if code := p.Stop(25 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		if objs := s.list(t); len(objs) != 0 {
			t.Errorf("%d objects in the bucket after a 403:\n%s", len(objs), sortedKeys(objs))
		}
		s.checkNoOpenUploads(t)
		if n := p.CountLog("flush failed permanently"); n != 1 {
			t.Errorf("%d permanent-failure log lines, want 1", n)
		}
	}
	for i, h := range handles {
		if h.Applied() == 0 {
			t.Errorf("fault rule %d was never applied: the case tested nothing", i)
		}
	}
}

// testTwoProcesses runs two barges with their own buffers writing to the
// same bucket and prefix: every record of both arrives once, and each
// object is completed by exactly one request (none is overwritten).
func testTwoProcesses(t *testing.T, s *store) {
	cfg := storeConfig(s, "store_as zstd\n", "", "")
	a := startBargeEnv(t, t.TempDir(), cfg, s.env)
	b := startBargeEnv(t, t.TempDir(), cfg, s.env)
	for i := range 3 {
		bargetest.SendAcked(t, a.Addr, "app.two", i*200, i*200+100)
		bargetest.SendAcked(t, b.Addr, "app.two", i*200+100, i*200+200)
	}
	s.waitObjects(t, 600, time.Minute)
	for _, p := range []*bargetest.Proc{a, b} {
		if code := p.Stop(25 * time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
	}
	objs := s.list(t)
	count := checkObjects(t, objs, 600)
	if count < 2 {
		t.Errorf("%d objects from two processes", count)
	}
	if c := s.committedObjects(); c != count {
		t.Errorf("%d requests completed an object, for %d objects", c, count)
	}
}

// testKillDuringUploads kills barge with SIGKILL while three uploads are
// in flight: one that the store completed but whose answer the proxy
// holds, two that the proxy holds before the store saw them. After a
// restart without faults every record is in the bucket once, in one
// object per chunk.
func testKillDuringUploads(t *testing.T, s *store) {
	dir := t.TempDir()
	cfg := storeConfig(s, "store_as gzip\n", "flush_thread_count 3", "")
	held := s.proxy.Add(faultproxy.Rule{Match: s.upload, Times: 1, Fault: faultproxy.DelayResponse(time.Hour)})
	s.proxy.Add(faultproxy.Rule{Match: s.upload, Fault: faultproxy.Delay(time.Hour)})
	p := startBargeEnv(t, dir, cfg, s.env)
	for i, tag := range []string{"app.k0", "app.k1", "app.k2"} {
		bargetest.SendAcked(t, p.Addr, tag, i*200, i*200+200)
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.proxy.Stats().Faults < 3 || held.Applied() < 1 || len(s.list(t)) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("uploads not in flight after 30s: proxy %+v, %d objects", s.proxy.Stats(), len(s.list(t)))
		}
		<-tick.C
	}
	p.Kill9()
	s.proxy.Clear()

	p2 := startBargeEnv(t, dir, cfg, s.env)
	line := p2.WaitLog(10*time.Second, func(l map[string]any) bool { return l["msg"] == "recovered buffer" })
	if c, _ := line["chunks"].(float64); c != 3 {
		t.Errorf("recovered %v chunks, want 3", line["chunks"])
	}
	s.waitObjects(t, 600, time.Minute)
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if count := checkObjects(t, s.list(t), 600); count != 3 {
		t.Errorf("%d objects for 3 chunks", count)
	}
	if s.refused() == 0 {
		t.Errorf("no upload was refused with 412: the chunk whose upload completed before the kill was not met again")
	}
	s.checkNoOpenUploads(t)
}

// testKillBeforeCommit kills barge with SIGKILL when every part of a
// multipart (S3) or resumable (GCS) upload was sent and the request that
// would complete it is held by the proxy. After a restart without faults
// the chunk is one object and no multipart upload is left open.
func testKillBeforeCommit(t *testing.T, s *store) {
	dir := t.TempDir()
	cfg := storeConfig(s, "store_as txt\n  "+s.bigParams, "", "")
	held := s.proxy.Add(faultproxy.Rule{Match: s.commit, Fault: faultproxy.Delay(time.Hour)})
	p := startBargeEnv(t, dir, cfg, s.env)
	sendBig(t, p.Addr, "app.big", 0, 700)
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for held.Applied() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no upload reached its commit after 30s: proxy %+v", s.proxy.Stats())
		}
		<-tick.C
	}
	p.Kill9()
	s.proxy.Clear()

	p2 := startBargeEnv(t, dir, cfg, s.env)
	s.waitObjects(t, 700, time.Minute)
	if code := p2.Stop(25 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if count := checkObjects(t, s.list(t), 700); count != 1 {
		t.Errorf("%d objects for 1 chunk", count)
	}
	s.checkNoOpenUploads(t)
}
