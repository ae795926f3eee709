package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
)

// corpusDir holds Fluentd configuration examples written for these tests
// in the style of Fluentd's documentation and the plugins' READMEs, each
// covering one form real configs use.
const corpusDir = "testdata/fluentd"

// Every example is accepted as it is, by the same loading barge check and
// barge run do.
func TestFluentdCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("%d examples, want at least 20", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".conf"), func(t *testing.T) {
			p, err := loadPlan(f)
			if err != nil {
				t.Fatalf("refused:\n%v", err)
			}
			for _, w := range p.warnings() {
				t.Log(w)
			}
		})
	}
}

// corpusRun is an example run end to end: records sent over forward (or
// lines written for tail), then what check finds in the output.
type corpusRun struct {
	name  string
	tag   string
	want  int                                                   // records written out under out/
	check func(t *testing.T, dir string, recs []map[string]any) // nil: the count only
}

// The examples that route records, run as a user would: the real binary,
// records sent with fluent-logger-golang, the files read back.
func TestFluentdCorpusEndToEnd(t *testing.T) {
	const sent = 20
	level := func(i int) string {
		if i%4 == 3 {
			return "debug"
		}
		return "info"
	}
	runs := []corpusRun{
		{name: "01-out-file-no-buffer-path", tag: "app.web", want: sent},
		{name: "02-env-defaults", tag: "app.web", want: sent},
		{name: "03-use-default", tag: "app.web", want: sent},
		{name: "04-hostname", tag: "app.web", want: sent, check: func(t *testing.T, _ string, recs []map[string]any) {
			host, _ := os.Hostname()
			for _, r := range recs {
				if r["host"] != host || r["node"] != host || r["worker"] != "0" {
					t.Fatalf("record %v: want host and node %q, worker 0", r, host)
				}
			}
		}},
		{name: "05-v012-out-file", tag: "app.web", want: sent, check: func(t *testing.T, _ string, recs []map[string]any) {
			for _, r := range recs {
				if s, _ := r["logtime"].(string); !strings.HasSuffix(s, "Z") && !strings.HasSuffix(s, "+0000") {
					t.Fatalf("record %v: want the time injected as logtime, in UTC", r)
				}
			}
		}},
		{name: "13-label", tag: "app.web", want: sent * 3 / 4, check: func(t *testing.T, _ string, recs []map[string]any) {
			for _, r := range recs {
				if r["level"] == "debug" {
					t.Fatalf("the label's grep let %v through", r)
				}
			}
		}},
		{name: "14-copy", tag: "app.web", want: 2 * sent, check: func(t *testing.T, dir string, _ []map[string]any) {
			for _, store := range []string{"primary", "backup"} {
				if got := len(readPrefix(t, filepath.Join(dir, "out"), store)); got != sent {
					t.Fatalf("store %s: %d records, want %d", store, got, sent)
				}
			}
		}},
		{name: "15-relabel", tag: "app.web", want: sent},
		{name: "19-filter-stdout", tag: "app.web", want: sent},
		{name: "22-buffer-compress", tag: "app.web", want: sent},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			dir := t.TempDir()
			src, err := os.ReadFile(filepath.Join(corpusDir, run.name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			port := freePort(t)
			p := bargetest.Start(t, bargeBin, dir, string(src), []string{fmt.Sprintf("FORWARD_PORT=%d", port)})
			bargetest.SendRecords(t, p.Addr, run.tag, 0, sent, func(i int) map[string]any {
				return map[string]any{"seq": i, "level": level(i), "msg": "hello"}
			})
			recs := bargetest.WaitRecords(t, filepath.Join(dir, "out"), run.want, 30*time.Second)
			if code := p.Stop(30 * time.Second); code != 0 {
				t.Fatalf("exit %d", code)
			}
			if len(recs) != run.want {
				t.Fatalf("%d records written, want %d", len(recs), run.want)
			}
			if run.check != nil {
				run.check(t, dir, recs)
			}
			if run.name == "19-filter-stdout" {
				if n := strings.Count(p.Stdout(), " app.web: {"); n != sent {
					t.Fatalf("the stdout filter printed %d events, want %d:\n%s", n, sent, p.Stdout())
				}
			}
		})
	}
}

// readPrefix reads the JSON records of the files under dir whose names
// start with prefix.
func readPrefix(t *testing.T, dir, prefix string) []map[string]any {
	t.Helper()
	sub := t.TempDir()
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err != nil || fi.IsDir() {
			continue
		}
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, filepath.Base(m)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bargetest.ReadRecords(t, sub)
}

// The v0.12 in_tail example reads an nginx access log and the out_file
// format example writes Fluentd's out_file lines.
func TestFluentdCorpusTailAndOutFile(t *testing.T) {
	t.Run("06-v012-tail", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
			t.Fatal(err)
		}
		line := `192.168.0.1 - - [28/Feb/2013:12:00:00 +0900] "GET /index.html HTTP/1.1" 200 777 "-" "Opera/12.0"` + "\n"
		if err := os.WriteFile(filepath.Join(dir, "logs", "access.log"), []byte(line+line), 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(corpusDir, "06-v012-tail.conf"))
		if err != nil {
			t.Fatal(err)
		}
		p := bargetest.StartCommand(t, bargeBin, dir, string(src), nil, "run")
		recs := bargetest.WaitRecords(t, filepath.Join(dir, "out"), 2, 30*time.Second)
		if code := p.Stop(30 * time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		if len(recs) != 2 {
			t.Fatalf("%d records, want 2", len(recs))
		}
		if r := recs[0]; r["remote"] != "192.168.0.1" || r["method"] != "GET" || r["path"] != "/index.html" || r["code"] != "200" {
			t.Fatalf("record %v: want nginx's fields", r)
		}
	})
	t.Run("09-format-out-file", func(t *testing.T) {
		dir := t.TempDir()
		src, err := os.ReadFile(filepath.Join(corpusDir, "09-format-out-file.conf"))
		if err != nil {
			t.Fatal(err)
		}
		p := bargetest.Start(t, bargeBin, dir, string(src), []string{fmt.Sprintf("FORWARD_PORT=%d", freePort(t))})
		bargetest.SendRecords(t, p.Addr, "app.web", 0, 5, func(i int) map[string]any { return map[string]any{"seq": i} })
		var lines []string
		deadline := time.Now().Add(30 * time.Second)
		for len(lines) < 5 && time.Now().Before(deadline) {
			lines = outLines(t, filepath.Join(dir, "out"))
			if len(lines) < 5 {
				time.Sleep(50 * time.Millisecond) // polling the output directory: the observable contract
			}
		}
		if code := p.Stop(30 * time.Second); code != 0 {
			t.Fatalf("exit %d", code)
		}
		re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000,\{"seq":\d\}$`)
		if len(lines) != 5 {
			t.Fatalf("%d lines, want 5: %q", len(lines), lines)
		}
		for _, l := range lines {
			if !re.MatchString(l) {
				t.Fatalf("line %q is not TIME,JSON in UTC without the tag", l)
			}
		}
	})
}

// outLines reads the lines of the files under dir, skipping buffers.
func outLines(t *testing.T, dir string) []string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && strings.HasSuffix(d.Name(), ".buffer") {
			return filepath.SkipDir
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			r = zr
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		return nil
	})
	return lines
}
