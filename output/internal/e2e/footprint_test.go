package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	bq "cloud.google.com/go/bigquery"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/barge-dev/barge/cmd/barge/bargetest"
	"github.com/barge-dev/barge/output/internal/bqemu"
	"github.com/barge-dev/barge/output/internal/minio"
)

// BenchmarkFootprint runs barge on every configuration shipped in
// examples/ and examples/bench/, as shipped except for what points it at
// this machine (ports, endpoints, directories: see adapt), under load for
// BARGE_FOOTPRINT_DURATION (default 60s), and prints a table of each run's
// peak RSS (the kernel's ru_maxrss of the whole run, drain at SIGTERM
// included) and input rate. Forward inputs are driven by cmd/loadgen at
// full speed (PackedForward, 1,000 records of 200 bytes a message, an ack
// each); S3 outputs write to a MinIO started for the run, GCS outputs to
// fake-gcs-server, BigQuery loaders talk to the BigQuery emulator; tail
// and files inputs read files written before the start.
//
//	go test ./output/internal/e2e -run '^$' -bench Footprint -benchtime 1x -timeout 2h
//
// BARGE_FOOTPRINT_ONLY=REGEXP runs the configurations whose path matches.
// It is a benchmark, never run by the test suite: the whole takes about
// 25 minutes.
func BenchmarkFootprint(b *testing.B) {
	dur := 60 * time.Second
	if s := os.Getenv("BARGE_FOOTPRINT_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("BARGE_FOOTPRINT_DURATION: %v", err)
		}
		dur = d
	}
	only := regexp.MustCompile(os.Getenv("BARGE_FOOTPRINT_ONLY"))
	root := repoRoot(b)
	loadgen := filepath.Join(b.TempDir(), "loadgen")
	build := exec.Command("go", "build", "-o", loadgen, "github.com/barge-dev/barge/cmd/loadgen")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build loadgen: %v", err)
	}
	var rows []footprintRow
	for _, c := range footprintCases {
		if !only.MatchString(c.config) {
			continue
		}
		b.Run(strings.TrimSuffix(filepath.Base(c.config), ".conf"), func(b *testing.B) {
			f := &footprint{b: b, c: c, root: root, loadgen: loadgen, dur: dur, dir: b.TempDir()}
			rs := f.run()
			for _, r := range rs {
				b.ReportMetric(float64(r.peak)/(1<<20), "peak-MiB")
			}
			rows = append(rows, rs...)
		})
	}
	fmt.Printf("\nbarge's peak RSS per shipped configuration, %s of load each, %d cores (%s)\n\n", dur, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| config | driven by | input | peak RSS |")
	fmt.Println("|---|---|---|---|")
	for _, r := range rows {
		mark := ""
		if r.peak > 64<<20 {
			mark = " (over 64 MiB)"
		}
		fmt.Printf("| `%s` | %s | %s | **%.1f MiB**%s |\n", r.config, r.driver, r.input, float64(r.peak)/(1<<20), mark)
	}
}

// footprintCase is one shipped configuration and how it is driven.
type footprintCase struct {
	config string // from the repository's root
	drive  string // forward, messages (a fixed count), tail, idle, files, onprem, pair
	// store is what its outputs and loaders need: s3, gcs, bq (gcs and
	// the BigQuery emulator), or none.
	store string
	args  []string // more loadgen flags
}

var footprintCases = []footprintCase{
	{config: "examples/quickstart.conf", drive: "forward"},
	{config: "examples/sidecar.conf", drive: "forward", args: []string{"-shared-key", "footprint-key"}},
	{config: "examples/s3.conf", drive: "forward", store: "s3"},
	{config: "examples/gcs.conf", drive: "forward", store: "gcs"},
	{config: "examples/bigquery.conf", drive: "forward", store: "bq"},
	{config: "examples/onprem-bigquery.conf", drive: "onprem", store: "bq"},
	{config: "examples/bench/zstd.conf", drive: "forward"},
	{config: "examples/bench/gzip.conf", drive: "forward"},
	{config: "examples/bench/fsync.conf", drive: "forward"},
	{config: "examples/bench/overload.conf", drive: "forward", args: []string{"-conns", "4"}},
	{config: "examples/bench/s3-zstd.conf", drive: "forward", store: "s3"},
	{config: "examples/bench/s3-gzip.conf", drive: "forward", store: "s3"},
	{config: "examples/bench/s3-1g.conf", drive: "messages", store: "s3", args: []string{"-messages", "5090"}},
	{config: "examples/bench/forward-sender.conf", drive: "pair"},
	{config: "examples/bench/tail.conf", drive: "tail"},
	{config: "examples/bench/tail-idle.conf", drive: "idle"},
	{config: "examples/bench/files.conf", drive: "files"},
	// The Kubernetes example's sidecar (forward and tail in, forward out
	// with gzip and acks) in front of its aggregator (forward in, gcs out):
	// their ConfigMaps' barge.conf.
	{config: "examples/kubernetes/sidecar.yaml", drive: "k8s"},
}

type footprintRow struct {
	config, driver, input string
	peak                  int64
}

// footprint is one run.
type footprint struct {
	b       *testing.B
	c       footprintCase
	root    string
	loadgen string
	dur     time.Duration
	dir     string // barge's working directory
	env     []string
	s3      *minio.Server
	gcs     *fakestorage.Server
	bq      *bqemu.Emulator
}

func (f *footprint) run() []footprintRow {
	b := f.b
	text, err := os.ReadFile(filepath.Join(f.root, f.c.config))
	if err != nil {
		b.Fatal(err)
	}
	if strings.HasSuffix(f.c.config, ".yaml") {
		text = []byte(configMap(b, string(text)))
	}
	f.startStores(string(text))
	f.env = append(f.env, "BARGE_ROOT_DIR="+filepath.Join(f.dir, "root"), "FLUENT_SHARED_KEY=footprint-key", "POD_NAME=footprint-0")
	config := f.adapt(string(text), f.dir)
	row := footprintRow{config: f.c.config}
	switch f.c.drive {
	case "forward", "messages":
		p := f.start(f.dir, config, true)
		row.driver, row.input = f.load(p.Addr, p.Pid())
		f.stop(p)
		row.peak = p.PeakRSS()
	case "pair":
		return f.pair(config)
	case "k8s":
		return f.k8s()
	case "tail":
		size := f.writeLines(filepath.Join(f.dir, "bench-in", "app.log"), 2<<30)
		p := f.start(f.dir, config, false)
		start := time.Now()
		read := f.waitTail(filepath.Join(f.dir, "bench-state", "tail.pos"), size)
		took := time.Since(start)
		f.stop(p)
		row.peak = p.PeakRSS()
		row.driver = "`@type tail` reading a file of 100-byte lines from its head"
		row.input = fmt.Sprintf("%d MB read in %.1f s (%.0f MB/s)", read/1e6, took.Seconds(), float64(read)/1e6/took.Seconds())
	case "idle":
		dir := filepath.Join(f.dir, "bench-idle")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range 1000 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.log", i)), []byte("{}\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		p := f.start(f.dir, config, false)
		p.WaitLog(time.Minute, func(l map[string]any) bool { return l["msg"] == "barge started" })
		time.Sleep(f.dur) // the run itself: idle files for the duration
		f.stop(p)
		row.peak = p.PeakRSS()
		row.driver, row.input = "1,000 idle files followed", f.dur.String()
	case "files", "onprem":
		// files.conf: one 1 GiB file of JSON lines. onprem-bigquery.conf:
		// 32 exports of 8 MiB, each one JSON document (json_path $.task,
		// which @type files streams).
		var size int64
		files := 1
		if f.c.drive == "files" {
			size = f.writeLines(filepath.Join(f.dir, "bench-in", "data.ndjson"), 1<<30)
		} else {
			files = 32
			for i := range files {
				size += f.writeTask(filepath.Join(f.dir, "data-export", fmt.Sprintf("top-%02d.json", i)), 8<<20)
			}
		}
		p := f.start(f.dir, config, false)
		start := time.Now()
		p.WaitNth(30*time.Minute, files, func(l map[string]any) bool { return l["msg"] == "shipped" })
		took := time.Since(start)
		f.stop(p)
		row.peak = p.PeakRSS()
		row.driver = fmt.Sprintf("`@type files` shipping %d file(s)", files)
		row.input = fmt.Sprintf("%d MB in %.1f s (%.0f MB/s)", size/1e6, took.Seconds(), float64(size)/1e6/took.Seconds())
	default:
		b.Fatalf("unknown drive %q", f.c.drive)
	}
	return []footprintRow{row}
}

// startStores starts what the configuration's outputs and loader write to.
func (f *footprint) startStores(text string) {
	b := f.b
	switch f.c.store {
	case "s3":
		f.s3 = minio.Start(b)
		for _, m := range regexp.MustCompile(`(?m)^\s*s3_bucket\s+(\S+)`).FindAllStringSubmatch(text, -1) {
			f.s3.MakeBucket(b, m[1])
		}
		f.env = append(f.env, "AWS_ACCESS_KEY_ID="+f.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+f.s3.SecretKey)
	case "gcs", "bq":
		var err error
		// Objects on disk, not in this process's memory.
		port := freePort(b)
		f.gcs, err = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", Host: "127.0.0.1", Port: uint16(port), PublicHost: fmt.Sprintf("127.0.0.1:%d", port),
			StorageRoot: filepath.Join(f.dir, "gcs"), Writer: io.Discard,
		})
		if err != nil {
			b.Fatalf("start fake-gcs-server: %v", err)
		}
		b.Cleanup(f.gcs.Stop)
		for _, m := range regexp.MustCompile(`(?m)^\s*bucket\s+(\S+)`).FindAllStringSubmatch(text, -1) {
			f.gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: m[1]})
		}
		f.env = append(f.env, "STORAGE_EMULATOR_HOST="+strings.TrimPrefix(f.gcs.URL(), "http://"))
	}
	if f.c.store == "bq" {
		project := regexp.MustCompile(`(?m)^\s*project\s+(\S+)`).FindStringSubmatch(text)[1]
		dataset := regexp.MustCompile(`(?m)^\s*dataset\s+(\S+)`).FindStringSubmatch(text)[1]
		table := regexp.MustCompile(`(?m)^\s*table\s+(\S+)`).FindStringSubmatch(text)[1]
		f.bq = bqemu.Start(b, bqemu.Options{Project: project, StorageEmulatorHost: f.gcs.URL()})
		c := f.bq.Client(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Dataset(dataset).Create(ctx, nil); err != nil {
			b.Fatal(err)
		}
		err := c.Dataset(dataset).Table(table).Create(ctx, &bq.TableMetadata{
			Schema:           bq.Schema{{Name: "time", Type: bq.TimestampFieldType}},
			TimePartitioning: &bq.TimePartitioning{Type: bq.HourPartitioningType, Field: "time"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// adapt points a shipped configuration at this run: its forward input on
// a free port, its directories under dir, its S3 outputs at MinIO
// (endpoint and region) and its loader at the emulator. Nothing else changes.
func (f *footprint) adapt(text, dir string) string {
	text = regexp.MustCompile(`(?m)^(\s*)port 24(224|299|300)$`).ReplaceAllString(text, "${1}port 0")
	for from, to := range map[string]string{"/var/lib/barge": "var-lib-barge", "/var/log/": "var-log/", "/data/export": "data-export"} {
		text = strings.ReplaceAll(text, from, filepath.Join(dir, to)+strings.TrimPrefix(to, strings.TrimSuffix(to, "/")))
	}
	if f.s3 != nil {
		text = regexp.MustCompile(`(?m)^(\s*)s3_region \S+$`).ReplaceAllString(text, "${1}s3_region "+f.s3.Region)
		if endpoint := regexp.MustCompile(`(?m)^(\s*)s3_endpoint \S+$`); endpoint.MatchString(text) {
			text = endpoint.ReplaceAllString(text, "${1}s3_endpoint "+f.s3.Endpoint)
		} else {
			text = strings.Replace(text, "@type s3\n", "@type s3\n  s3_endpoint "+f.s3.Endpoint+"\n  force_path_style true\n", 1)
		}
	}
	if f.bq != nil {
		text = strings.Replace(text, "@type bigquery\n", "@type bigquery\n  endpoint "+f.bq.URL+"\n", 1)
	}
	return text
}

var loadgenRate = regexp.MustCompile(`send rate:\s+(\d+) records/s, ([\d.]+) MB/s`)

// load runs loadgen against addr and returns how, and what it sent.
func (f *footprint) load(addr string, pid int) (driver, input string) {
	args := []string{"-addr", addr, "-mode", "packed", "-records", "1000", "-record-size", "200", "-ack",
		"-duration", f.dur.String(), "-tag", "app.footprint"}
	args = append(args, f.c.args...)
	out, err := exec.Command(f.loadgen, args...).CombinedOutput()
	if err != nil {
		f.b.Fatalf("loadgen: %v\n%s", err, out)
	}
	m := loadgenRate.FindStringSubmatch(string(out))
	if m == nil {
		f.b.Fatalf("loadgen printed no rate:\n%s", out)
	}
	driver = "loadgen " + strings.Join(f.c.args, " ")
	if f.c.drive == "messages" {
		return driver, fmt.Sprintf("one chunk (%s MB/s into it)", m[2])
	}
	return driver, m[2] + " MB/s"
}

// start runs barge on config in dir, logging at info whatever the config
// says (the harness reads its log), and with forward waits until its
// forward input listens.
func (f *footprint) start(dir, config string, forward bool) *bargetest.Proc {
	p := bargetest.StartCommand(f.b, bargeBin, dir, config, f.env, "run", "--log-level", "info")
	if forward {
		line := p.WaitLog(time.Minute, func(l map[string]any) bool { return l["msg"] == "listening" && l["port"] != nil })
		p.Addr = net.JoinHostPort(line["bind"].(string), fmt.Sprint(line["port"]))
	}
	return p
}

// stop ends barge with SIGTERM, letting it flush (shutdown_timeout), and
// checks it exited 0.
func (f *footprint) stop(p *bargetest.Proc) {
	if code := p.Stop(15 * time.Minute); code != 0 {
		f.b.Errorf("%s: barge exited %d; log:\n%s", f.c.config, code, p.LogText())
	}
}

// pair runs forward-receiver.conf and forward-sender.conf, the sender
// forwarding to the receiver, loadgen into the sender.
func (f *footprint) pair(sender string) []footprintRow {
	b := f.b
	recvText, err := os.ReadFile(filepath.Join(f.root, "examples/bench/forward-receiver.conf"))
	if err != nil {
		b.Fatal(err)
	}
	recvDir, sendDir := filepath.Join(f.dir, "receiver"), filepath.Join(f.dir, "sender")
	for _, d := range []string{recvDir, sendDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	port := strconv.Itoa(freePort(b))
	recv := f.start(recvDir, strings.Replace(string(recvText), "port 24301", "port "+port, 1), true)
	send := f.start(sendDir, strings.Replace(sender, "port 24301", "port "+port, 1), true)
	driver, input := f.load(send.Addr, send.Pid())
	f.stop(send)
	f.stop(recv)
	return []footprintRow{
		{config: "examples/bench/forward-sender.conf", driver: driver, input: input, peak: send.PeakRSS()},
		{config: "examples/bench/forward-receiver.conf", driver: "the sender", input: input, peak: recv.PeakRSS()},
	}
}

// k8s runs the Kubernetes example's sidecar forwarding to its aggregator,
// loadgen into the sidecar, each with its metrics listener on a port of
// its own.
func (f *footprint) k8s() []footprintRow {
	b := f.b
	aggText, err := os.ReadFile(filepath.Join(f.root, "examples/kubernetes/aggregator.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	agg := configMap(b, string(aggText))
	f.c.store = "gcs"
	f.startStores(agg) // the aggregator's bucket
	aggDir, sideDir := filepath.Join(f.dir, "aggregator"), filepath.Join(f.dir, "sidecar")
	aggPort := strconv.Itoa(freePort(b))
	agg = f.adapt(strings.Replace(agg, "port 24224", "port "+aggPort, 1), aggDir)
	agg = strings.Replace(agg, "http_port 24231", "http_port "+strconv.Itoa(freePort(b)), 1)
	text, err := os.ReadFile(filepath.Join(f.root, f.c.config))
	if err != nil {
		b.Fatal(err)
	}
	side := strings.Replace(configMap(b, string(text)), "host barge-aggregator.logging.svc.cluster.local\n    port 24224", "host 127.0.0.1\n    port "+aggPort, 1)
	side = f.adapt(side, sideDir)
	side = strings.Replace(side, "http_port 24231", "http_port "+strconv.Itoa(freePort(b)), 1)
	for _, d := range []string{aggDir, sideDir, filepath.Join(sideDir, "var-log/app")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	a := f.start(aggDir, agg, true)
	s := f.start(sideDir, side, true)
	driver, input := f.load(s.Addr, s.Pid())
	f.stop(s)
	f.stop(a)
	return []footprintRow{
		{config: "examples/kubernetes/sidecar.yaml", driver: driver, input: input, peak: s.PeakRSS()},
		{config: "examples/kubernetes/aggregator.yaml", driver: "the sidecar", input: input, peak: a.PeakRSS()},
	}
}

// configMap returns the barge.conf of a Kubernetes manifest's ConfigMap.
func configMap(b *testing.B, manifest string) string {
	lines := strings.Split(manifest, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "barge.conf: |" {
			continue
		}
		indent := ""
		var out []string
		for _, c := range lines[i+1:] {
			if strings.TrimSpace(c) == "" {
				out = append(out, "")
				continue
			}
			if indent == "" {
				indent = c[:len(c)-len(strings.TrimLeft(c, " "))]
			}
			if !strings.HasPrefix(c, indent) {
				break
			}
			out = append(out, strings.TrimPrefix(c, indent))
		}
		return strings.Join(out, "\n") + "\n"
	}
	b.Fatal("no barge.conf in the manifest")
	return ""
}

// words are what the generated lines are made of, so that compressors see
// text rather than noise.
var words = strings.Fields(`GET POST PUT DELETE /api/v1/users /api/v1/orders /healthz 200 201 204 301 404 500
	latency upstream cache hit miss commit rollback index offset request worker started finished
	received sent bytes user session token region zone node pod container image`)

// writeLines writes lines of about 100 bytes, size bytes in all, JSON
// objects (which @type none reads as text too).
func (f *footprint) writeLines(path string, size int64) int64 {
	w, done := f.create(path)
	rng := rand.New(rand.NewPCG(1, 2))
	var n int64
	var line []byte
	for i := 0; n < size; i++ {
		line = fmt.Appendf(line[:0], `{"seq":%d,"level":"info","msg":"`, i)
		for len(line) < 96 {
			line = append(append(line, words[rng.IntN(len(words))]...), ' ')
		}
		line = append(line[:len(line)-1], "\"}\n"...)
		w.Write(line)
		n += int64(len(line))
	}
	done()
	return n
}

// writeTask writes one JSON document whose "task" array holds records of
// about 100 bytes, size bytes in all (onprem-bigquery.conf's json_path).
func (f *footprint) writeTask(path string, size int64) int64 {
	w, done := f.create(path)
	rng := rand.New(rand.NewPCG(3, 4))
	n, _ := w.WriteString(`{"exported":"footprint","task":[`)
	total := int64(n)
	var rec []byte
	for i := 0; total < size; i++ {
		rec = rec[:0]
		if i > 0 {
			rec = append(rec, ',')
		}
		rec = fmt.Appendf(rec, `{"#TH":%d,"cpu %%":%d.%d,"command":"`, i, rng.IntN(100), rng.IntN(10))
		for len(rec) < 96 {
			rec = append(append(rec, words[rng.IntN(len(words))]...), ' ')
		}
		rec = append(rec[:len(rec)-1], "\"}\n"...)
		w.Write(rec)
		total += int64(len(rec))
	}
	k, _ := w.WriteString("]}\n")
	done()
	return total + int64(k)
}

func (f *footprint) create(path string) (*bufio.Writer, func()) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.b.Fatal(err)
	}
	file, err := os.Create(path)
	if err != nil {
		f.b.Fatal(err)
	}
	w := bufio.NewWriterSize(file, 1<<20)
	return w, func() {
		if err := w.Flush(); err != nil {
			f.b.Fatal(err)
		}
		if err := file.Close(); err != nil {
			f.b.Fatal(err)
		}
	}
}

// waitTail polls the tail's pos_file until it says size bytes were read,
// or the run's duration passed; it returns the bytes read.
func (f *footprint) waitTail(pos string, size int64) int64 {
	deadline := time.Now().Add(f.dur)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var read int64
	for ; time.Now().Before(deadline); <-tick.C {
		b, err := os.ReadFile(pos)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			// PATH, OFFSET and INODE in hex, then barge's own fields.
			if fs := strings.Split(line, "\t"); len(fs) >= 3 {
				if off, err := strconv.ParseInt(fs[1], 16, 64); err == nil {
					read = off
				}
			}
		}
		if read >= size {
			break
		}
	}
	return read
}

// repoRoot is the module's root, two directories above this package.
func repoRoot(b *testing.B) string {
	wd, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Join(wd, "..", "..", "..")
}
