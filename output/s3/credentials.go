package s3

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// WebIdentityConfig is the <web_identity_credentials> section: STS
// AssumeRoleWithWebIdentity with an OIDC token read from a file, as on EKS
// (IRSA). The token file is read again at each refresh.
type WebIdentityConfig struct {
	RoleARN         string `conf:"role_arn" required:"true"`
	RoleSessionName string `conf:"role_session_name" required:"true"`
	// WebIdentityTokenFile is the file holding the OIDC token.
	WebIdentityTokenFile string `conf:"web_identity_token_file" required:"true"`
	// Policy is an IAM policy in JSON that further limits the session.
	Policy string `conf:"policy"`
	// DurationSeconds is the session's lifetime in seconds (3600).
	DurationSeconds int `conf:"duration_seconds"`
	// STSRegion is the region of the STS endpoint (s3_region).
	STSRegion string `conf:"sts_region"`
	// STSHTTPProxy is an HTTP proxy for the STS requests only.
	STSHTTPProxy string `conf:"sts_http_proxy"`
	// STSEndpointURL is the STS endpoint (the regional one of sts_region).
	STSEndpointURL string `conf:"sts_endpoint_url"`
}

// InstanceProfileConfig is the <instance_profile_credentials> section: the
// EC2 instance's role, from the instance metadata service (IMDSv2, with
// IMDSv1 as a fallback).
type InstanceProfileConfig struct {
	// Retries is how many times a failed metadata request is retried (the
	// SDK's default: 2).
	Retries int `conf:"retries"`
	// IPAddress (169.254.169.254) and Port (80) locate the metadata service.
	IPAddress string `conf:"ip_address"`
	Port      int    `conf:"port"`
	// HTTPOpenTimeout bounds connecting, HTTPReadTimeout waiting for an
	// answer (the SDK's default: 5s for a whole request).
	HTTPOpenTimeout time.Duration `conf:"http_open_timeout"`
	HTTPReadTimeout time.Duration `conf:"http_read_timeout"`
}

// Default location of the instance metadata service.
const (
	imdsAddress = "169.254.169.254"
	imdsPort    = 80
)

// credentialSources names the credential sources a ClientConfig gives, in
// the order they are preferred: the first is used,
// <assume_role_credentials> then assumes its role with it.
func (c *ClientConfig) credentialSources() []string {
	var s []string
	if c.AWSKeyID != "" {
		s = append(s, "aws_key_id")
	}
	if c.CredentialProcess != "" {
		s = append(s, "aws_credential_process")
	}
	if c.WebIdentity != nil {
		s = append(s, "<web_identity_credentials>")
	}
	if c.InstanceProfile != nil {
		s = append(s, "<instance_profile_credentials>")
	}
	if c.SharedCredentials != nil {
		s = append(s, "<shared_credentials>")
	}
	if c.IAMRetries > 0 {
		s = append(s, "aws_iam_retries")
	}
	return s
}

// webIdentityFirst reports whether <web_identity_credentials> is the
// source used: its provider needs the loaded configuration.
func (c *ClientConfig) webIdentityFirst() bool {
	src := c.credentialSources()
	return len(src) > 0 && src[0] == "<web_identity_credentials>"
}

// validateCredentials checks the credential parameters without any I/O.
func (c *Config) validateCredentials() error {
	if (c.AWSKeyID == "") != (c.AWSSecKey == "") {
		return errors.New("'aws_key_id' and 'aws_sec_key' must be given together")
	}
	if c.AWSIAMRetries < 0 {
		return errors.New("'aws_iam_retries' must not be negative")
	}
	if c.AssumeRole != nil {
		if c.AssumeRole.RoleARN == "" {
			return errors.New("'role_arn' is required in <assume_role_credentials>")
		}
		if c.AssumeRole.RoleSessionName == "" {
			return errors.New("'role_session_name' is required in <assume_role_credentials>")
		}
		if err := checkDuration(c.AssumeRole.DurationSeconds, "<assume_role_credentials>"); err != nil {
			return err
		}
	}
	if w := c.WebIdentity; w != nil {
		for _, p := range []struct{ key, v string }{{"role_arn", w.RoleARN}, {"role_session_name", w.RoleSessionName},
			{"web_identity_token_file", w.WebIdentityTokenFile}} {
			if p.v == "" {
				return fmt.Errorf("'%s' is required in <web_identity_credentials>", p.key)
			}
		}
		if err := checkDuration(w.DurationSeconds, "<web_identity_credentials>"); err != nil {
			return err
		}
		if w.STSEndpointURL != "" && !strings.HasPrefix(w.STSEndpointURL, "http://") && !strings.HasPrefix(w.STSEndpointURL, "https://") {
			return fmt.Errorf("'sts_endpoint_url' %q in <web_identity_credentials> must be a URL starting with http:// or https://", w.STSEndpointURL)
		}
		if w.STSHTTPProxy != "" {
			if u, err := url.Parse(w.STSHTTPProxy); err != nil || u.Host == "" {
				return fmt.Errorf("'sts_http_proxy' %q in <web_identity_credentials> is not a URL like http://proxy:3128", w.STSHTTPProxy)
			}
		}
	}
	if ip := c.InstanceProfile; ip != nil {
		if ip.Retries < 0 {
			return errors.New("'retries' in <instance_profile_credentials> must not be negative")
		}
		if ip.Port < 0 || ip.Port > 65535 {
			return fmt.Errorf("'port' %d in <instance_profile_credentials> is not in 1..65535", ip.Port)
		}
		if h := strings.Trim(ip.IPAddress, "[]"); h != "" && net.ParseIP(h) == nil && strings.ContainsAny(h, "/:@[] ") {
			return fmt.Errorf("'ip_address' %q in <instance_profile_credentials> is not an address like 169.254.169.254", ip.IPAddress)
		}
		if ip.HTTPOpenTimeout < 0 || ip.HTTPReadTimeout < 0 {
			return errors.New("'http_open_timeout' and 'http_read_timeout' in <instance_profile_credentials> must not be negative")
		}
	}
	return nil
}

func checkDuration(d int, section string) error {
	if d != 0 && (d < 900 || d > 43200) {
		return fmt.Errorf("'duration_seconds' %d in %s is not in 900..43200", d, section)
	}
	return nil
}

// credentialLoadOptions are the options of config.LoadDefaultConfig that
// choose the base credentials, when they need no STS client: static keys,
// a credential process, the instance profile, a shared profile. Without
// any, the SDK's default chain.
func (c *ClientConfig) credentialLoadOptions() []func(*config.LoadOptions) error {
	var opts []func(*config.LoadOptions) error
	switch {
	case c.AWSKeyID != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.AWSKeyID, c.AWSSecKey, "")))
	case c.CredentialProcess != "":
		opts = append(opts, config.WithCredentialsProvider(processcreds.NewProvider(c.CredentialProcess)))
	case c.WebIdentity != nil:
		// Replaced by webIdentityProvider once the configuration is
		// loaded; meanwhile, the default chain need not be resolved.
		opts = append(opts, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	case c.InstanceProfile != nil:
		if p := instanceProfileProvider(*c.InstanceProfile); p != nil {
			opts = append(opts, config.WithCredentialsProvider(p))
		}
	case c.SharedCredentials != nil:
		if sc := c.SharedCredentials; sc.ProfileName != "" {
			opts = append(opts, config.WithSharedConfigProfile(sc.ProfileName))
		}
		if sc := c.SharedCredentials; sc.Path != "" {
			opts = append(opts, config.WithSharedCredentialsFiles([]string{sc.Path}))
		}
	case c.IAMRetries > 0:
		if p := instanceProfileProvider(InstanceProfileConfig{Retries: c.IAMRetries}); p != nil {
			opts = append(opts, config.WithCredentialsProvider(p))
		}
	}
	return opts
}

// instanceProfileProvider returns the EC2 role provider of ip, or nil in an
// ECS task (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI set), where,
// as in fluent-plugin-s3, the container's credentials are used instead: the
// SDK's default chain finds them.
//
// Its HTTP transport goes through no proxy and keeps no idle connections
// (a few requests an hour do not need them), so it needs no closing.
func instanceProfileProvider(ip InstanceProfileConfig) aws.CredentialsProvider {
	if os.Getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") != "" || os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI") != "" {
		return nil
	}
	opts := imds.Options{}
	if ip.IPAddress != "" || ip.Port != 0 {
		host, port := imdsAddress, imdsPort
		if ip.IPAddress != "" {
			host = strings.Trim(ip.IPAddress, "[]")
		}
		if ip.Port != 0 {
			port = ip.Port
		}
		opts.Endpoint = "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	}
	if ip.Retries > 0 {
		opts.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = ip.Retries + 1 })
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if ip.HTTPOpenTimeout > 0 {
		dialer.Timeout = ip.HTTPOpenTimeout
	}
	tr := &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true, ResponseHeaderTimeout: ip.HTTPReadTimeout}
	opts.HTTPClient = &http.Client{Transport: tr}
	if ip.HTTPOpenTimeout+ip.HTTPReadTimeout > 5*time.Second {
		opts.DisableDefaultTimeout = true // the SDK's 5s per request would cut them short
	}
	client := imds.New(opts)
	return ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client })
}

// webIdentityProvider returns the provider of <web_identity_credentials>.
// Its STS client is made from awsCfg (AWS_ENDPOINT_URL_STS applies) with
// hc, or with sts_http_proxy through a transport of its own that keeps no
// idle connections.
func webIdentityProvider(awsCfg aws.Config, hc *http.Client, tr *http.Transport, s3Region string, w *WebIdentityConfig) aws.CredentialsProvider {
	client := hc
	if w.STSHTTPProxy != "" {
		if u, err := url.Parse(w.STSHTTPProxy); err == nil { // checked by Validate
			ptr := tr.Clone()
			ptr.Proxy = http.ProxyURL(u)
			ptr.DisableKeepAlives = true
			client = &http.Client{Transport: ptr, CheckRedirect: hc.CheckRedirect}
		}
	}
	stsClient := sts.NewFromConfig(awsCfg, func(so *sts.Options) {
		so.HTTPClient = client
		switch {
		case w.STSRegion != "":
			so.Region = w.STSRegion
		case s3Region != "":
			so.Region = s3Region
		}
		if w.STSEndpointURL != "" {
			so.BaseEndpoint = aws.String(w.STSEndpointURL)
		}
	})
	return stscreds.NewWebIdentityRoleProvider(stsClient, w.RoleARN, stscreds.IdentityTokenFile(w.WebIdentityTokenFile),
		func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = w.RoleSessionName
			if w.Policy != "" {
				o.Policy = aws.String(w.Policy)
			}
			if w.DurationSeconds > 0 {
				o.Duration = time.Duration(w.DurationSeconds) * time.Second
			}
		})
}
