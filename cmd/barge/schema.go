package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"cloud.google.com/go/storage"
	"github.com/klauspost/compress/gzip"
	"google.golang.org/api/iterator"

	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/bigquery/bqschema"
	"github.com/barge-dev/barge/output/gcs"
)

// cmdSchema is `barge schema infer (-c FILE --output ID | gs://URI...)`.
func cmdSchema(args []string, stdout, stderr io.Writer) int {
	usage := "usage: barge schema infer (-c FILE --output ID | gs://BUCKET/OBJECT ...) [--sample N]"
	switch {
	case len(args) > 0 && args[0] == "infer":
		args = args[1:]
	case !wantsHelp(args, nil):
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("schema infer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config `file`")
	fs.StringVar(path, "config", "", "config `file` (same as -c)")
	outID := fs.String("output", "", "the @id of a gcs output whose objects are sampled")
	sample := fs.Int("sample", 20, "objects to read, newest first (with --output)")
	if helpFlag(args, "schema infer", fs, stdout) {
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	uris := fs.Args()
	if (*path == "") != (*outID == "") || (*outID == "") == (len(uris) == 0) || *sample < 1 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	keyfile := ""
	if *outID != "" {
		p, err := loadPlan(*path)
		if err != nil {
			printConfErrors(stderr, err)
			return 1
		}
		m := p.matchByID(*outID)
		// The objects are read with the gcs output's own credentials.
		var g *gcs.Config
		if m != nil {
			g, _ = m.cfg.(*gcs.Config)
		}
		if g == nil {
			fmt.Fprintf(stderr, "barge: %s: no gcs output with @id %q\n", *path, *outID)
			return 1
		}
		keyfile = g.Keyfile
		uris = []string{sampleSource(m, *outID)}
	}
	client, err := inferClient(ctx, keyfile)
	if err != nil {
		fmt.Fprintln(stderr, "barge:", err)
		return 1
	}
	defer client.Close()
	if *outID != "" {
		if uris, err = newest(ctx, client, uris[0], *sample); err != nil {
			fmt.Fprintln(stderr, "barge:", err)
			return 1
		}
		if len(uris) == 0 {
			fmt.Fprintf(stderr, "barge: output %q has written no objects yet: nothing to infer from\n", *outID)
			return 1
		}
	}
	var in bqschema.Inferrer
	for _, u := range uris {
		if err := inferObject(ctx, client, u, &in); err != nil {
			fmt.Fprintln(stderr, "barge:", err)
			return 1
		}
	}
	if in.Rows() == 0 {
		fmt.Fprintln(stderr, "barge: the objects hold no records: nothing to infer from")
		return 1
	}
	stdout.Write(in.Schema().JSON())
	fmt.Fprintf(stderr, "inferred from %d records of %d objects\n", in.Rows(), len(uris))
	return 0
}

// sampleSource is where barge schema infer --output lists the objects of
// a gcs output: what a loader of it lists (bigquery.CheckSource). Only
// the listing counts here: whether a loader could load the objects is
// barge check's to say.
func sampleSource(m *matchPlan, id string) string {
	return bigquery.CheckSource(bigquery.SourceSpec{Output: m.outputSpec(id)}).List
}

// inferClient is the storage client barge schema infer reads with, made
// as the gcs output makes its own (gcs.NewClient: keyfile, or no
// credentials against an emulator). JSON reads: the same on GCS, and
// emulators serve them without a public host.
func inferClient(ctx context.Context, keyfile string) (*storage.Client, error) {
	return gcs.NewClient(ctx, gcs.ClientConfig{Keyfile: keyfile, UserAgent: "barge/" + version}, storage.WithJSONReads())
}

// newest lists the n most recent objects under a gs:// prefix, skipping
// barge's ledger.
func newest(ctx context.Context, c *storage.Client, prefixURI string, n int) ([]string, error) {
	bucket, prefix, err := bigquery.ParseGSURL(prefixURI)
	if err != nil {
		return nil, err
	}
	var all []*storage.ObjectAttrs
	it := c.Bucket(bucket).Objects(ctx, &storage.Query{Prefix: prefix})
	for {
		a, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefixURI, err)
		}
		if !strings.HasPrefix(a.Name, "_barge/") && !strings.HasSuffix(a.Name, "/") {
			all = append(all, a)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Created.After(all[j].Created) })
	var out []string
	for _, a := range all[:min(n, len(all))] {
		out = append(out, "gs://"+bucket+"/"+a.Name)
	}
	return out, nil
}

// inferObject feeds every JSON line of an object (gzip or plain) to in.
func inferObject(ctx context.Context, c *storage.Client, uri string, in *bqschema.Inferrer) error {
	bucket, name, err := bigquery.ParseGSURL(uri)
	if err != nil {
		return err
	}
	name = strings.TrimSuffix(name, "/")
	// A gzip object arrives as stored, or decompressed when it was
	// written for transcoding (Content-Encoding gzip); either is read.
	r, err := c.Bucket(bucket).Object(name).NewReader(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", uri, err)
	}
	defer r.Close()
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, _ := br.Peek(2); bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: %w", uri, err)
		}
		defer zr.Close()
		src = zr
	}
	sc := bufio.NewScanner(src)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := in.AddJSONLine(sc.Bytes()); err != nil {
			return fmt.Errorf("%s line %d: %w", uri, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", uri, err)
	}
	return nil
}
