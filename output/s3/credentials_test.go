package s3

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/barge-dev/barge/output/internal/minio"
)

// TestMinIOCredentials writes an object with each credential source,
// against MinIO, with temporary credentials MinIO issued: Start's checks
// and the flush both sign with them, session token included.
func TestMinIOCredentials(t *testing.T) {
	srv := minio.Start(t)
	srv.MakeBucket(t, bucket)
	for i, tc := range []struct {
		name string
		// setup configures c; check, when not nil, runs after the flush
		// with the key every request was signed with.
		setup   func(t *testing.T, c *Config) (check func(t *testing.T, key string))
		wantErr string // Start's error
	}{
		{"web identity", func(t *testing.T, c *Config) func(*testing.T, string) {
			sts := startSTS(t, srv, "oidc-token")
			c.WebIdentity = &WebIdentityConfig{RoleARN: "arn:aws:iam::123456789012:role/logs", RoleSessionName: "barge-web",
				WebIdentityTokenFile: writeFile(t, "token", "oidc-token", 0o600), Policy: `{"Version":"2012-10-17"}`,
				DurationSeconds: 900, STSRegion: "eu-west-1", STSEndpointURL: sts.URL}
			return func(t *testing.T, _ string) {
				forms, proxied := sts.requests()
				if len(forms) != 1 || proxied != 0 {
					t.Fatalf("%d STS requests (%d proxied), want one, direct", len(forms), proxied)
				}
				f := forms[0]
				if f.Get("Action") != "AssumeRoleWithWebIdentity" || f.Get("RoleArn") != "arn:aws:iam::123456789012:role/logs" ||
					f.Get("RoleSessionName") != "barge-web" || f.Get("WebIdentityToken") != "oidc-token" ||
					f.Get("DurationSeconds") != "900" || f.Get("Policy") != `{"Version":"2012-10-17"}` {
					t.Errorf("STS request %v", f)
				}
			}
		}, ""},
		{"web identity through sts_http_proxy", func(t *testing.T, c *Config) func(*testing.T, string) {
			sts := startSTS(t, srv, "oidc-token")
			c.WebIdentity = &WebIdentityConfig{RoleARN: "arn:aws:iam::123456789012:role/logs", RoleSessionName: "barge-web",
				WebIdentityTokenFile: writeFile(t, "token", "oidc-token", 0o600),
				STSEndpointURL:       "http://sts.barge.invalid", STSHTTPProxy: sts.URL}
			return func(t *testing.T, _ string) {
				if forms, proxied := sts.requests(); len(forms) == 0 || proxied != len(forms) {
					t.Errorf("%d STS requests, %d through the proxy", len(forms), proxied)
				}
			}
		}, ""},
		{"web identity with another token", func(t *testing.T, c *Config) func(*testing.T, string) {
			sts := startSTS(t, srv, "oidc-token")
			c.WebIdentity = &WebIdentityConfig{RoleARN: "arn:aws:iam::123456789012:role/logs", RoleSessionName: "barge-web",
				WebIdentityTokenFile: writeFile(t, "token", "stale-token", 0o600), STSEndpointURL: sts.URL}
			return nil
		}, "InvalidIdentityToken"},
		{"instance profile", func(t *testing.T, c *Config) func(*testing.T, string) {
			creds := mustMinioCreds(t, srv)
			imds := startIMDS(t, creds)
			u, _ := url.Parse(imds.URL)
			port, _ := strconv.Atoi(u.Port())
			c.InstanceProfile = &InstanceProfileConfig{IPAddress: u.Hostname(), Port: port, Retries: 2,
				HTTPOpenTimeout: 2 * time.Second, HTTPReadTimeout: 2 * time.Second}
			return func(t *testing.T, key string) {
				if tokens, served, refusals := imds.counts(); tokens == 0 || served == 0 || refusals != 0 {
					t.Errorf("IMDS: %d session tokens, %d credentials served, %d requests without a token", tokens, served, refusals)
				}
				if key != creds.Key {
					t.Errorf("signed with %s, want the instance role's %s", key, creds.Key)
				}
			}
		}, ""},
		{"credential process", func(t *testing.T, c *Config) func(*testing.T, string) {
			creds := mustMinioCreds(t, srv)
			out, _ := json.Marshal(map[string]any{"Version": 1, "AccessKeyId": creds.Key, "SecretAccessKey": creds.Secret,
				"SessionToken": creds.Token, "Expiration": creds.Expires.UTC().Format(time.RFC3339)})
			js := writeFile(t, "creds.json", string(out), 0o600)
			script := writeFile(t, "creds.sh", fmt.Sprintf("#!/bin/sh\n[ \"$1\" = --role ] && [ \"$2\" = 'logs writer' ] || { echo \"bad arguments: $*\" >&2; exit 2; }\ncat '%s'\n", js), 0o700)
			c.AWSCredentialProcess = script + ` --role "logs writer"`
			return func(t *testing.T, key string) {
				if key != creds.Key {
					t.Errorf("signed with %s, want the process's %s", key, creds.Key)
				}
			}
		}, ""},
		{"credential process failing", func(t *testing.T, c *Config) func(*testing.T, string) {
			c.AWSCredentialProcess = writeFile(t, "creds.sh", "#!/bin/sh\nexit 3\n", 0o700)
			return nil
		}, "exit status 3"},
		{"assume role with MinIO's STS", func(t *testing.T, c *Config) func(*testing.T, string) {
			t.Setenv("AWS_ENDPOINT_URL_STS", srv.Endpoint)
			c.AWSKeyID, c.AWSSecKey = srv.AccessKey, srv.SecretKey
			c.AssumeRole = &AssumeRoleConfig{RoleARN: "arn:minio:iam:::role/barge", RoleSessionName: "barge", DurationSeconds: 900}
			return nil
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWS(t)
			sig := startSigners(t, srv.Endpoint)
			cfg := testConfig(sig.URL, func(c *Config) { c.AWSKeyID, c.AWSSecKey, c.S3Region = "", "", srv.Region })
			check := tc.setup(t, &cfg)
			o := newOutput(t, cfg)
			err := o.Start(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "check_apikey_on_start: list s3://"+bucket+"/logs/ at "+sig.URL+": ") ||
					!strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Start: %v, want a check_apikey_on_start error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			c := testChunk(fmt.Sprintf("%032x", i+1), 100)
			if err := flushFrames(context.Background(), o, c, newGen(100, 1)); err != nil {
				t.Fatal(err)
			}
			body, _ := getObject(t, srv.Client(), o.Key(c))
			checkSeqs(t, jsonSeqs(t, decode(t, o.Key(c), body)), 100)
			key := sig.one(t, srv.AccessKey)
			if check != nil {
				check(t, key)
			}
		})
	}
}

func TestValidateCredentials(t *testing.T) {
	web := func() *WebIdentityConfig {
		return &WebIdentityConfig{RoleARN: "arn", RoleSessionName: "s", WebIdentityTokenFile: "/var/run/token"}
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // start of the error; "" for valid
	}{
		{"web identity", func(c *Config) { c.WebIdentity = web() }, ""},
		{"web identity without arn", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.RoleARN = "" }, "'role_arn' is required in <web_identity_credentials>"},
		{"web identity without session", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.RoleSessionName = "" }, "'role_session_name' is required"},
		{"web identity without token file", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.WebIdentityTokenFile = "" }, "'web_identity_token_file' is required"},
		{"web identity duration", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.DurationSeconds = 50000 }, "'duration_seconds' 50000 in <web_identity_credentials>"},
		{"web identity endpoint", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.STSEndpointURL = "sts.local" }, "'sts_endpoint_url'"},
		{"web identity proxy", func(c *Config) { c.WebIdentity = web(); c.WebIdentity.STSHTTPProxy = "proxy" }, "'sts_http_proxy'"},
		{"web identity full", func(c *Config) {
			c.WebIdentity = web()
			c.WebIdentity.STSEndpointURL, c.WebIdentity.STSHTTPProxy, c.WebIdentity.STSRegion = "https://sts.eu-west-1.amazonaws.com", "http://proxy:3128", "eu-west-1"
		}, ""},
		{"instance profile", func(c *Config) {
			c.InstanceProfile = &InstanceProfileConfig{Retries: 3, IPAddress: "[fd00:ec2::254]", Port: 80, HTTPOpenTimeout: time.Second}
		}, ""},
		{"instance profile retries", func(c *Config) { c.InstanceProfile = &InstanceProfileConfig{Retries: -1} }, "'retries'"},
		{"instance profile port", func(c *Config) { c.InstanceProfile = &InstanceProfileConfig{Port: 70000} }, "'port' 70000"},
		{"instance profile address", func(c *Config) { c.InstanceProfile = &InstanceProfileConfig{IPAddress: "http://169.254.169.254/"} }, "'ip_address'"},
		{"instance profile timeout", func(c *Config) { c.InstanceProfile = &InstanceProfileConfig{HTTPReadTimeout: -1} }, "'http_open_timeout'"},
		{"aws_iam_retries", func(c *Config) { c.AWSIAMRetries = -1 }, "'aws_iam_retries'"},
		{"checks off", func(c *Config) {
			c.CheckApikeyOnStart, c.CheckBucket, c.AutoCreateBucket, c.CheckObject = false, false, false, false
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.S3Bucket = "b"
			tc.mod(&c)
			err := c.validateCredentials()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestCheckDefaults(t *testing.T) {
	c := DefaultConfig()
	if !c.CheckApikeyOnStart || !c.CheckBucket || !c.AutoCreateBucket || !c.CheckObject {
		t.Errorf("check_apikey_on_start %v, check_bucket %v, auto_create_bucket %v, check_object %v; fluent-plugin-s3's are all true",
			c.CheckApikeyOnStart, c.CheckBucket, c.AutoCreateBucket, c.CheckObject)
	}
}

// TestCredentialSources: the order in which sources are preferred, as in
// fluent-plugin-s3 (aws_credential_process, barge's, after the keys).
func TestCredentialSources(t *testing.T) {
	c := ClientConfig{AWSKeyID: "k", AWSSecKey: "s", CredentialProcess: "p", WebIdentity: &WebIdentityConfig{},
		InstanceProfile: &InstanceProfileConfig{}, SharedCredentials: &SharedCredentialsConfig{}, IAMRetries: 3}
	want := []string{"aws_key_id", "aws_credential_process", "<web_identity_credentials>", "<instance_profile_credentials>",
		"<shared_credentials>", "aws_iam_retries"}
	if got := c.credentialSources(); !slices.Equal(got, want) {
		t.Errorf("sources %q, want %q", got, want)
	}
	if got := (&ClientConfig{}).credentialSources(); len(got) != 0 {
		t.Errorf("sources %q without any", got)
	}
}

// TestInstanceProfileInECS: in an ECS task, <instance_profile_credentials>
// leaves the container's credentials to the default chain, as
// fluent-plugin-s3 uses them.
func TestInstanceProfileInECS(t *testing.T) {
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")
	if p := instanceProfileProvider(InstanceProfileConfig{}); p != nil {
		t.Errorf("provider %T in ECS", p)
	}
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
	if p := instanceProfileProvider(InstanceProfileConfig{}); p == nil {
		t.Error("no provider outside ECS")
	}
}
