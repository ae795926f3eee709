package main

import (
	"github.com/barge-dev/barge/conf"
	"github.com/barge-dev/barge/output/bigquery"
	"github.com/barge-dev/barge/output/s3"
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
	k, err := p.kindOf(sec, sec.Name, "<loader "+sec.Arg+">")
	if err != nil {
		return err
	}
	lp.cfg = *k.config().(*bigquery.Config)
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
	if m.kind.connect != nil {
		m.kind.connect(m.cfg, lp)
	}
	lp.cfg.Source = c.Source
	lp.cfg.SourceOutput = "" // resolved: the loader reads Source
	return nil
}

// followS3 gives a loader following an s3 output the output's connection
// (region, endpoint, credentials), where the loader sets none of its own.
func followS3(lp *loaderPlan, o *s3.Config) {
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
		if c.SharedCredentials == nil && (o.AWSCredentialProcess != "" || o.WebIdentity != nil || o.InstanceProfile != nil || o.AWSIAMRetries > 0) {
			oc := o.ClientConfig()
			c.FollowedCredentials = &oc
		}
	}
	if c.SharedCredentials == nil {
		c.SharedCredentials = o.SharedCredentials
	}
	if c.AssumeRole == nil {
		c.AssumeRole = o.AssumeRole
	}
}
