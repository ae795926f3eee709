package s3

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SDK retries: a few quick ones, so that one dropped connection does not
// cost a whole buffer retry; the buffer's backoff governs anything longer.
const (
	sdkMaxAttempts = 3
	sdkMaxBackoff  = 500 * time.Millisecond
)

// transport returns the HTTP transport of one Output, made from the SDK's
// (which carries AWS_CA_BUNDLE or the profile's ca_bundle): its own, so
// Close can close its idle connections.
func transport(hc aws.HTTPClient, verifyPeer bool, proxy string) *http.Transport {
	var tr *http.Transport
	if bc, ok := hc.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = awshttp.NewBuildableClient().GetTransport()
	}
	tr.MaxIdleConnsPerHost = 32
	// A server that accepted a whole body but never answers would hold a
	// flush worker forever.
	tr.ResponseHeaderTimeout = 2 * time.Minute
	if proxy != "" {
		if u, err := url.Parse(proxy); err == nil { // checked by Validate
			tr.Proxy = http.ProxyURL(u)
		}
	}
	if !verifyPeer {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.InsecureSkipVerify = true
	}
	return tr
}

// client returns the S3 client, loading the AWS configuration (environment,
// shared files) on first use: New does no I/O.
func (o *Output) client(ctx context.Context) (*s3.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	if o.s3 != nil {
		return o.s3, nil
	}
	c, tr, err := NewClient(ctx, o.cfg.ClientConfig())
	if err != nil {
		return nil, err
	}
	o.s3, o.tr = c, tr
	return c, nil
}

// ClientConfig is what an S3 client is made from: the connection and
// credential parameters of the s3 output, which the BigQuery loader's S3
// sources take too.
type ClientConfig struct {
	Region            string
	Endpoint          string
	ForcePathStyle    bool
	SSLVerifyPeer     bool
	ProxyURI          string
	AWSKeyID          string
	AWSSecKey         string
	SharedCredentials *SharedCredentialsConfig
	AssumeRole        *AssumeRoleConfig
	// CredentialProcess, WebIdentity, InstanceProfile and IAMRetries are
	// aws_credential_process, <web_identity_credentials>,
	// <instance_profile_credentials> and aws_iam_retries.
	CredentialProcess string
	WebIdentity       *WebIdentityConfig
	InstanceProfile   *InstanceProfileConfig
	IAMRetries        int
}

// ClientConfig returns the output's connection and credential settings.
func (c *Config) ClientConfig() ClientConfig {
	return ClientConfig{Region: c.S3Region, Endpoint: c.S3Endpoint, ForcePathStyle: c.ForcePathStyle,
		SSLVerifyPeer: c.SSLVerifyPeer, ProxyURI: c.ProxyURI, AWSKeyID: c.AWSKeyID, AWSSecKey: c.AWSSecKey,
		SharedCredentials: c.SharedCredentials, AssumeRole: c.AssumeRole, CredentialProcess: c.AWSCredentialProcess,
		WebIdentity: c.WebIdentity, InstanceProfile: c.InstanceProfile, IAMRetries: c.AWSIAMRetries}
}

// NewClient makes an S3 client, loading the AWS configuration (environment,
// shared files, the instance's role) as the SDK does, with barge's retry
// and checksum settings and the credentials c chooses (credentials.go).
// The transport is the client's own: closing its idle connections affects
// no other client.
func NewClient(ctx context.Context, c ClientConfig) (*s3.Client, *http.Transport, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = sdkMaxAttempts
				so.MaxBackoff = sdkMaxBackoff
				so.RateLimiter = ratelimit.None // never fail a request for lack of retry tokens
			})
		}),
		// CRC32 trailers break some S3-compatible stores; Content-MD5,
		// set on every body, is what S3 verifies instead.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	opts = append(opts, c.credentialLoadOptions()...)
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, nil, err
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	tr := transport(awsCfg.HTTPClient, c.SSLVerifyPeer, c.ProxyURI)
	hc := &http.Client{
		Transport: tr,
		// S3 redirects are errors the SDK reports (wrong region), not
		// requests to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if c.webIdentityFirst() {
		awsCfg.Credentials = aws.NewCredentialsCache(webIdentityProvider(awsCfg, hc, tr, c.Region, c.WebIdentity))
	}
	if ar := c.AssumeRole; ar != nil {
		stsClient := sts.NewFromConfig(awsCfg, func(so *sts.Options) { so.HTTPClient = hc })
		provider := stscreds.NewAssumeRoleProvider(stsClient, ar.RoleARN, func(p *stscreds.AssumeRoleOptions) {
			p.RoleSessionName = ar.RoleSessionName
			if ar.ExternalID != "" {
				p.ExternalID = aws.String(ar.ExternalID)
			}
			if ar.Policy != "" {
				p.Policy = aws.String(ar.Policy)
			}
			if ar.DurationSeconds > 0 {
				p.Duration = time.Duration(ar.DurationSeconds) * time.Second
			}
		})
		awsCfg.Credentials = aws.NewCredentialsCache(provider)
	}
	client := s3.NewFromConfig(awsCfg, func(so *s3.Options) {
		so.HTTPClient = hc
		if c.Endpoint != "" {
			so.BaseEndpoint = aws.String(c.Endpoint)
		}
		so.UsePathStyle = c.ForcePathStyle
	})
	return client, tr, nil
}
