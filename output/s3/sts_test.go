package s3

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/barge-dev/barge/output/internal/minio"
)

// The credential providers are tested against MinIO with temporary
// credentials that MinIO itself issues (its STS AssumeRole, called with
// the root credentials): MinIO accepts them only with their session token,
// so an object written proves that the provider handed over all three.
// The fake STS (AssumeRoleWithWebIdentity), the fake instance metadata
// service and the credential process hand out such credentials.

// tempCreds are temporary credentials.
type tempCreds struct {
	Key, Secret, Token string
	Expires            time.Time
}

// minioCreds asks MinIO's STS for temporary credentials of its root user.
func minioCreds(srv *minio.Server, d time.Duration) (tempCreds, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	cl := sts.New(sts.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.Endpoint), HTTPClient: &http.Client{Transport: tr},
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.SecretKey, "")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := cl.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:minio:iam:::role/barge"),
		RoleSessionName: aws.String("barge-test"), DurationSeconds: aws.Int32(int32(d / time.Second))})
	if err != nil {
		return tempCreds{}, fmt.Errorf("minio: assume role: %w", err)
	}
	c := out.Credentials
	return tempCreds{aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), aws.ToTime(c.Expiration)}, nil
}

func mustMinioCreds(t testing.TB, srv *minio.Server) tempCreds {
	t.Helper()
	c, err := minioCreds(srv, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeSTS answers AssumeRoleWithWebIdentity with credentials from MinIO,
// when the request carries token. Served through a proxy, it sees the
// absolute URL and counts the request as proxied.
type fakeSTS struct {
	URL   string
	srv   *minio.Server
	token string

	mu      sync.Mutex
	forms   []url.Values
	proxied int
}

func startSTS(t *testing.T, srv *minio.Server, token string) *fakeSTS {
	t.Helper()
	f := &fakeSTS{srv: srv, token: token}
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	f.URL = hs.URL
	return f
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		stsError(w, 400, "InvalidParameterValue", err.Error())
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	if r.URL.IsAbs() {
		f.proxied++
	}
	f.mu.Unlock()
	switch {
	case r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity":
		stsError(w, 400, "InvalidAction", "only AssumeRoleWithWebIdentity")
		return
	case r.PostForm.Get("WebIdentityToken") != f.token:
		stsError(w, 400, "InvalidIdentityToken", "the token is not the one issued")
		return
	}
	d := time.Hour
	if s := r.PostForm.Get("DurationSeconds"); s != "" {
		n, _ := strconv.Atoi(s)
		d = time.Duration(n) * time.Second
	}
	c, err := minioCreds(f.srv, d)
	if err != nil {
		stsError(w, 500, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
<SubjectFromWebIdentityToken>system:serviceaccount:logs:barge</SubjectFromWebIdentityToken>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/%s</Arn><AssumedRoleId>AROA:barge</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`,
		xmlText(c.Key), xmlText(c.Secret), xmlText(c.Token), c.Expires.UTC().Format(time.RFC3339), xmlText(r.PostForm.Get("RoleSessionName")))
}

func (f *fakeSTS) requests() ([]url.Values, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forms, f.proxied
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>test</RequestId></ErrorResponse>`,
		code, xmlText(msg))
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// fakeIMDS is an instance metadata service (IMDSv2: a session token is
// required) serving the role "barge-role" with creds.
type fakeIMDS struct {
	URL   string
	creds tempCreds

	mu       sync.Mutex
	tokens   int // PUT /latest/api/token
	served   int // credentials served
	refusals int // requests without the session token
}

const imdsSession = "imds-session-token"

func startIMDS(t *testing.T, creds tempCreds) *fakeIMDS {
	t.Helper()
	f := &fakeIMDS{creds: creds}
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	f.URL = hs.URL
	return f
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		ttl := r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds")
		if ttl == "" {
			http.Error(w, "no ttl", http.StatusBadRequest)
			return
		}
		f.tokens++
		w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl)
		fmt.Fprint(w, imdsSession)
		return
	}
	if r.Header.Get("X-Aws-Ec2-Metadata-Token") != imdsSession {
		f.refusals++
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/latest/meta-data/iam/security-credentials/":
		fmt.Fprint(w, "barge-role\n")
	case "/latest/meta-data/iam/security-credentials/barge-role":
		f.served++
		json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "Type": "AWS-HMAC",
			"LastUpdated": time.Now().UTC().Format(time.RFC3339), "AccessKeyId": f.creds.Key,
			"SecretAccessKey": f.creds.Secret, "Token": f.creds.Token, "Expiration": f.creds.Expires.UTC().Format(time.RFC3339)})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeIMDS) counts() (tokens, served, refusals int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens, f.served, f.refusals
}

// signers is a reverse proxy in front of a store that records the access
// keys requests are signed with, and how many carry a session token.
type signers struct {
	URL string

	mu       sync.Mutex
	keys     map[string]int
	tokens   int
	requests int
}

func startSigners(t *testing.T, endpoint string) *signers {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s := &signers{keys: map[string]int{}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host // signed
	}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
		key, _, _ := strings.Cut(cred, "/")
		s.mu.Lock()
		s.requests++
		s.keys[key]++
		if r.Header.Get("X-Amz-Security-Token") != "" {
			s.tokens++
		}
		s.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		hs.Close()
		tr.CloseIdleConnections()
	})
	s.URL = hs.URL
	return s
}

// one returns the one access key every request was signed with, checking
// that it is not root's and that every request carried a session token.
func (s *signers) one(t *testing.T, root string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, n := range s.keys {
		if len(s.keys) == 1 && n == s.requests && s.tokens == s.requests && key != root && key != "" {
			return key
		}
	}
	t.Errorf("%d requests signed with %v, %d with a session token; want all with one temporary key and its token", s.requests, s.keys, s.tokens)
	return ""
}

// isolateAWS empties the environment the SDK's default chain reads, so
// that only the configured credentials can work.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_ENDPOINT_URL_STS": "", "AWS_ENDPOINT_URL": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_EC2_METADATA_DISABLED": "", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1",
	} {
		t.Setenv(k, v)
	}
}

// writeFile writes a file of the test's temporary directory.
func writeFile(t *testing.T, name, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	return p
}
