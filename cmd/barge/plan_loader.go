package main

import (
	"github.com/barge-dev/barge/conf"
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
	// The loader's own rules (schema_path) are checked now, those of the
	// output it follows once every output is known (resolveLoaderSource).
	if err := sourceErrors(&lp, bigquery.CheckSource(lp.cfg.SourceSpec(nil))); err != nil {
		return err
	}
	p.loaders = append(p.loaders, lp)
	return nil
}

// resolveLoaderSource turns source_output into the output's bucket and
// the fixed part of its path, and checks that the output writes objects
// the loader can load (bigquery.CheckSource): JSON lines, gzip or plain,
// one partition per object.
func (p *plan) resolveLoaderSource(lp *loaderPlan) error {
	id := lp.cfg.SourceOutput
	if id == "" {
		return nil
	}
	m, c, err := p.checkLoaderSource(lp, id)
	if err != nil {
		return err
	}
	if err := sourceErrors(lp, c); err != nil {
		return err
	}
	if m.typ == "s3" {
		// The output's connection, unless the loader sets its own.
		o := m.s3
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
	}
	lp.cfg.Source = c.Source
	lp.cfg.SourceOutput = "" // resolved: the loader reads Source
	return nil
}
