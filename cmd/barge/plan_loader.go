package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/output"
	"github.com/barge-dev/barge/output/bigquery"
)

// addLoader decodes a <loader NAME> directive.
func (p *plan) addLoader(sec *conf.Section) error {
	lp := loaderPlan{sec: sec, logLvl: sec.Get("@log_level")}
	if sec.Arg == "" {
		return conf.Errorf(sec, "<loader> needs a name: <loader NAME>")
	}
	for _, other := range p.loaders {
		if other.cfg.Name == sec.Arg {
			return conf.Errorf(sec, "<loader %s> is defined twice (first at line %d)", sec.Arg, other.sec.Line)
		}
	}
	switch t := sec.Type(); t {
	case "bigquery":
	case "":
		return conf.Errorf(sec, "<loader %s>: '@type' is required (barge has: bigquery)", sec.Arg)
	default:
		return conf.Errorf(sec, "<loader %s>: unknown @type %q (barge has: bigquery)", sec.Arg, t)
	}
	lp.cfg = bigquery.DefaultConfig()
	if err := conf.Decode(sec, &lp.cfg); err != nil {
		return err
	}
	if err := checkLoaderSchema(&lp); err != nil {
		return err
	}
	p.loaders = append(p.loaders, lp)
	return nil
}

// resolveLoaderSource turns source_output into the gcs output's bucket and
// the fixed part of its path, and checks that the output writes objects
// the loader can load: JSON lines, gzip or plain, one partition per object.
func (p *plan) resolveLoaderSource(lp *loaderPlan) error {
	id := lp.cfg.SourceOutput
	if id == "" {
		return nil
	}
	at := lp.sec.Param("source_output")
	m := p.matchByID(id)
	if m == nil {
		return conf.ParamErrorf(at, "'source_output' %q is not the @id of any <match>", id)
	}
	var (
		format             output.FormatConfig
		inject             output.InjectConfig
		storeAs, path, url string
	)
	switch m.typ {
	case "gcs":
		g := m.gcs
		format, inject, storeAs, path, url = g.Format, g.Inject, g.StoreAs, g.Path, "gs://"+g.Bucket+"/"
	case "s3":
		o := m.s3
		format, inject, storeAs, path, url = o.Format, o.Inject, o.StoreAs, o.Path, "s3://"+o.S3Bucket+"/"
		if lp.cfg.Staging == "" {
			return conf.ParamErrorf(at, "'source_output' %q is an s3 output: set 'staging' gs://BUCKET/PREFIX/, where its objects are copied for loading (BigQuery loads only from GCS)", id)
		}
		// The output's connection, unless the loader sets its own.
		c := &lp.cfg
		if !lp.sec.Has("s3_region") {
			c.S3Region = o.S3Region
		}
		if !lp.sec.Has("s3_endpoint") {
			c.S3Endpoint = o.S3Endpoint
		}
		if !lp.sec.Has("force_path_style") {
			c.ForcePathStyle = o.ForcePathStyle
		}
		if !lp.sec.Has("ssl_verify_peer") {
			c.SSLVerifyPeer = o.SSLVerifyPeer
		}
		if !lp.sec.Has("proxy_uri") {
			c.ProxyURI = o.ProxyURI
		}
		if !lp.sec.Has("aws_key_id") && !lp.sec.Has("aws_sec_key") {
			c.AWSKeyID, c.AWSSecKey = o.AWSKeyID, o.AWSSecKey
		}
		if c.SharedCredentials == nil {
			c.SharedCredentials = o.SharedCredentials
		}
		if c.AssumeRole == nil {
			c.AssumeRole = o.AssumeRole
		}
	default:
		return conf.ParamErrorf(at, "'source_output' %q is a %s output; the loader reads gcs and s3 outputs", id, m.typ)
	}
	if format.Type != "json" {
		return conf.ParamErrorf(at, "'source_output' %q writes <format> %s; BigQuery loads JSON lines: use <format> @type json", id, format.Type)
	}
	if storeAs != "gzip" && storeAs != "json" {
		return conf.ParamErrorf(at, "'source_output' %q stores %s objects; BigQuery loads gzip or plain JSON: use store_as gzip or json", id, storeAs)
	}
	if !hasKey(m.buffer.ChunkKeys, "time") {
		return conf.ParamErrorf(at, "'source_output' %q must chunk by time so that each object holds one partition: <buffer time> with a timekey that divides one %s", id, strings.ToLower(lp.cfg.PartitionType))
	}
	if err := timekeyFits(m.buffer.TimeKey, lp.cfg.PartitionType); err != nil {
		return conf.ParamErrorf(at, "'source_output' %q: %v", id, err)
	}
	if loc, err := m.buffer.TimeKeyLocation(); err == nil {
		if err := zoneFits(m.buffer.TimeKey, loc); err != nil {
			return conf.ParamErrorf(at, "'source_output' %q: %v", id, err)
		}
	}
	if f := lp.cfg.PartitionField; f != "" && inject.TimeKey != f {
		return conf.ParamErrorf(at, "'partition_field' %s needs the output %q to write the event time there: <inject> time_key %s, time_type string, time_format %%Y-%%m-%%dT%%H:%%M:%%S.%%6N%%:z, utc true (BigQuery keeps microseconds)", f, id, f)
	}
	if f := lp.cfg.PartitionField; f != "" && strings.HasPrefix(inject.TimeType, "unixtime_") {
		return conf.ParamErrorf(at, "'partition_field' %s: the output %q writes it as time_type %s, a number BigQuery reads as seconds since the epoch (out of its range): use time_type string, time_format %%Y-%%m-%%dT%%H:%%M:%%S.%%6N%%:z, utc true", f, id, inject.TimeType)
	}
	if msg, certain := timeFormatProblem(lp, id, inject); certain {
		return conf.ParamErrorf(at, "%s", msg)
	}
	// The path up to its first placeholder (a tag, a record key) is the
	// source. Time conversions before it stay when the output writes its
	// path in UTC: then a load cycle lists only the open partitions'
	// prefixes. Else the source is the part before any.
	prefix := path
	if i := strings.IndexByte(prefix, '$'); i >= 0 {
		prefix = prefix[:strings.LastIndex(prefix[:i], "/")+1]
	}
	loc, _ := m.buffer.TimeKeyLocation()
	if strings.Contains(prefix, "%") && (loc != time.UTC || bigquery.CheckPrefixTemplate(prefix) != nil) {
		prefix = prefix[:strings.LastIndex(prefix[:strings.IndexByte(prefix, '%')], "/")+1]
	}
	lp.cfg.Source = url + prefix
	lp.cfg.SourceOutput = "" // resolved: the loader reads Source
	return nil
}

// zoneFits checks that time chunks cut in loc start on UTC partition
// boundaries: BigQuery partitions are UTC, so a zone whose offset is not a
// multiple of the timekey (timekey 1d at +09:00, 1h at +05:30) would cut
// chunks that straddle two partitions. Summer and winter offsets are both
// checked.
func zoneFits(tk time.Duration, loc *time.Location) error {
	year := time.Now().Year()
	for _, month := range []time.Month{time.January, time.July} {
		_, off := time.Date(year, month, 1, 0, 0, 0, 0, loc).Zone()
		if time.Duration(off)*time.Second%tk != 0 {
			return fmt.Errorf("timekey %v cut in zone %s (UTC%+.4g h) starts chunks off the UTC partition boundaries, so objects would mix partitions: set timekey_use_utc true", tk, loc, float64(off)/3600)
		}
	}
	return nil
}

func hasKey(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

// timekeyFits checks that chunks never straddle a partition boundary.
func timekeyFits(tk time.Duration, partition string) error {
	limit := 24 * time.Hour
	if partition == "HOUR" {
		limit = time.Hour
	}
	if tk <= 0 || tk > limit || limit%tk != 0 {
		return fmt.Errorf("timekey %v would mix %s partitions in one object: use a timekey that divides %v", tk, strings.ToLower(partition), limit)
	}
	return nil
}
