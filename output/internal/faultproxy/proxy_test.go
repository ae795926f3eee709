package faultproxy

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seen is what the upstream server received for one request.
type seen struct {
	method, path, query, host string
	n                         int64
	sum                       [32]byte
	err                       error
	chunked                   bool
}

// upstream is a test server that records every request and answers 200
// with a body of ?size= bytes of pattern.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
	got  chan seen
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{got: make(chan seen, 4096)}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, host: r.Host, n: n, err: err,
			chunked: len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked"}
		copy(s.sum[:], h.Sum(nil))
		u.mu.Lock()
		u.reqs = append(u.reqs, s)
		u.mu.Unlock()
		u.got <- s
		if err != nil {
			return
		}
		var size int64
		fmt.Sscan(r.URL.Query().Get("size"), &size)
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Header().Set("X-Upstream", "yes")
		io.Copy(w, io.LimitReader(&pattern{}, size))
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.reqs)
}

// pattern is an endless deterministic byte stream.
type pattern struct{ off int }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off*7 + p.off>>8)
		p.off++
	}
	return len(b), nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	io.Copy(h, io.LimitReader(&pattern{}, n))
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func startProxy(t *testing.T, u *upstream, seed uint64) *Proxy {
	t.Helper()
	p, err := Start(u.srv.URL, Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// client returns an HTTP client that never reuses connections (so the
// transport never replays a request on its own) and its cleanup.
func client(t *testing.T, timeout time.Duration) *http.Client {
	tr := &http.Transport{DisableKeepAlives: true, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

func do(t *testing.T, c *http.Client, method, url string, body io.Reader, size int64) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestForwardStreams(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)
	c := client(t, time.Minute)
	for _, tc := range []struct {
		name          string
		method        string
		query         string
		body          int64
		chunked       bool
		responseBytes int64
	}{
		{"large put", "PUT", "partNumber=1&uploadId=x", 64 << 20, false, 0},
		{"chunked put", "PUT", "", 8 << 20, true, 0},
		{"large get", "GET", "size=" + fmt.Sprint(32<<20), 0, false, 32 << 20},
		{"empty post", "POST", "uploads", 0, false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := p.URL() + "/bucket/some%2Fkey?" + tc.query
			if tc.responseBytes > 0 && !strings.Contains(url, "size=") {
				url += "&size=" + fmt.Sprint(tc.responseBytes)
			}
			var body io.Reader
			size := tc.body
			if tc.body > 0 {
				body = io.LimitReader(&pattern{}, tc.body)
				if tc.chunked {
					size = -1
				}
			}
			resp, got, err := do(t, c, tc.method, url, body, size)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Upstream") != "yes" {
				t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
			}
			if int64(len(got)) != tc.responseBytes || sha256.Sum256(got) != patternSum(tc.responseBytes) {
				t.Errorf("response: %d bytes, want %d of the pattern", len(got), tc.responseBytes)
			}
			s := <-u.got
			if s.err != nil || s.n != tc.body || s.sum != patternSum(tc.body) {
				t.Errorf("upstream got %d bytes (err %v), want %d of the pattern", s.n, s.err, tc.body)
			}
			if s.method != tc.method || s.path != "/bucket/some/key" || !strings.HasPrefix(s.query, tc.query) {
				t.Errorf("upstream got %s %s?%s", s.method, s.path, s.query)
			}
			if s.host != p.Addr() {
				t.Errorf("upstream got Host %q, want the proxy's %q", s.host, p.Addr())
			}
			if s.chunked != tc.chunked {
				t.Errorf("upstream chunked = %v", s.chunked)
			}
		})
	}
	if st := p.Stats(); st.Requests != 4 || st.Forwarded != 4 || st.Faults != 0 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRespondNextTimes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  Fault
		status int
		code   string // S3 <Code> or GCS reason
		gcs    bool
	}{
		{"s3 503", S3ServiceUnavailable(), 503, "ServiceUnavailable", false},
		{"s3 429", S3SlowDown(), 429, "SlowDown", false},
		{"s3 403", S3AccessDenied(), 403, "AccessDenied", false},
		{"gcs 503", GCSServiceUnavailable(), 503, "backendError", true},
		{"gcs 429", GCSRateLimited(), 429, "rateLimitExceeded", true},
		{"gcs 403", GCSForbidden(), 403, "forbidden", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := startUpstream(t)
			p := startProxy(t, u, 1)
			c := client(t, time.Minute)
			h := p.Add(Rule{Match: Match{Method: "PUT"}, Times: 2, Fault: tc.fault})
			for i := range 3 {
				resp, body, err := do(t, c, "PUT", p.URL()+"/b/k", strings.NewReader("data"), 4)
				if err != nil {
					t.Fatal(err)
				}
				if i == 2 {
					if resp.StatusCode != 200 {
						t.Fatalf("third PUT: status %d, want 200 from upstream", resp.StatusCode)
					}
					continue
				}
				if resp.StatusCode != tc.status {
					t.Fatalf("PUT %d: status %d, want %d", i, resp.StatusCode, tc.status)
				}
				if got := errorCode(t, body, tc.gcs); got != tc.code {
					t.Errorf("error code %q, want %q in %s", got, tc.code, body)
				}
			}
			if resp, _, err := do(t, c, "GET", p.URL()+"/b/k", nil, 0); err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET: %v", err)
			}
			if u.count() != 2 {
				t.Errorf("upstream saw %d requests, want 2 (the third PUT and the GET)", u.count())
			}
			if h.Applied() != 2 || !h.Exhausted() {
				t.Errorf("applied %d, exhausted %v", h.Applied(), h.Exhausted())
			}
			p.Close() // every request logged
			if st := p.Stats(); st.Requests != 4 || st.Faults != 2 || st.Forwarded != 2 {
				t.Errorf("stats %+v", st)
			}
			if n := p.Count(Match{Method: "PUT"}); n != 3 {
				t.Errorf("Count(PUT) = %d", n)
			}
		})
	}
}

func errorCode(t *testing.T, body []byte, gcs bool) string {
	t.Helper()
	if gcs {
		var doc struct {
			Error struct {
				Code   int
				Errors []struct{ Reason string }
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil || len(doc.Error.Errors) != 1 {
			t.Fatalf("GCS error body %s: %v", body, err)
		}
		return doc.Error.Errors[0].Reason
	}
	var doc struct{ Code string }
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("S3 error body %s: %v", body, err)
	}
	return doc.Code
}

func TestMatch(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)
	c := client(t, time.Minute)
	p.Add(Rule{Match: Match{Method: "PUT", PathPrefix: "/b/", Query: []string{"uploadId"}}, Fault: S3ServiceUnavailable()})
	p.Add(Rule{Match: Match{Method: "POST", NoQuery: []string{"uploads"}}, Fault: S3AccessDenied()})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"PUT", "/b/k?partNumber=1&uploadId=abc", 503},
		{"PUT", "/b/k", 200},
		{"PUT", "/other/k?uploadId=abc", 200},
		{"GET", "/b/k?uploadId=abc", 200},
		{"POST", "/b/k?uploads", 200},
		{"POST", "/b/k?uploadId=abc", 403},
	} {
		resp, _, err := do(t, c, tc.method, p.URL()+tc.path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	u := startUpstream(t)
	run := func(seed uint64) []int {
		p := startProxy(t, u, seed)
		c := client(t, time.Minute)
		p.Add(Rule{Probability: 0.3, Fault: S3ServiceUnavailable()})
		var hit []int
		for i := range 100 {
			resp, _, err := do(t, c, "GET", p.URL()+"/x", nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == 503 {
				hit = append(hit, i)
			}
		}
		return hit
	}
	a, b := run(42), run(42)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same seed, different faults:\n%v\n%v", a, b)
	}
	if len(a) < 10 || len(a) > 60 {
		t.Errorf("%d of 100 requests faulted with probability 0.3", len(a))
	}
}

func TestResetRequest(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)
	c := client(t, time.Minute)
	p.Add(Rule{Match: Match{Method: "PUT"}, Times: 2, Fault: ResetRequest(100_000)})

	// A body longer than n: the server gets n bytes and an error, the
	// client a reset.
	_, _, err := do(t, c, "PUT", p.URL()+"/b/big", io.LimitReader(&pattern{}, 4<<20), 4<<20)
	if err == nil {
		t.Fatal("PUT through a reset succeeded")
	}
	s := <-u.got
	if s.err == nil || s.n != 100_000 {
		t.Errorf("upstream read %d bytes with err %v, want 100000 and an error", s.n, s.err)
	}

	// A body shorter than n arrives whole; the client still gets no answer.
	_, _, err = do(t, c, "PUT", p.URL()+"/b/small", strings.NewReader("small"), 5)
	if err == nil {
		t.Fatal("PUT through a reset succeeded")
	}
	if s := <-u.got; s.err != nil || s.n != 5 {
		t.Errorf("upstream read %d bytes with err %v, want the whole body", s.n, s.err)
	}
	p.Close()
	for _, e := range p.Log() {
		if e.Status != 0 || !strings.HasPrefix(e.Fault, "reset-request@") {
			t.Errorf("log entry %+v", e)
		}
	}
}

func TestResetResponse(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)
	c := client(t, time.Minute)

	// n = 0: the server completed the request; the client sees a reset.
	p.Add(Rule{Times: 1, Fault: ResetResponse(0)})
	_, _, err := do(t, c, "PUT", p.URL()+"/b/k", io.LimitReader(&pattern{}, 1<<20), 1<<20)
	if err == nil {
		t.Fatal("PUT succeeded through ResetResponse(0)")
	}
	if s := <-u.got; s.err != nil || s.n != 1<<20 {
		t.Errorf("upstream read %d bytes with err %v, want the whole body", s.n, s.err)
	}

	// n inside the body: the client gets the headers and part of the body.
	p.Add(Rule{Times: 1, Fault: ResetResponse(4096)})
	req, _ := http.NewRequest("GET", p.URL()+"/b/k?size=1000000", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || len(b) == 0 || len(b) >= 4096 {
		t.Errorf("status %d, read %d bytes, err %v: want 200 and a body cut before 4096 bytes", resp.StatusCode, len(b), err)
	}
	<-u.got
}

func TestDelay(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)

	// A short delay: the request arrives, later.
	h := p.Add(Rule{Times: 1, Fault: Delay(150 * time.Millisecond)})
	start := time.Now()
	resp, _, err := do(t, client(t, time.Minute), "GET", p.URL()+"/x", nil, 0)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET: %v", err)
	}
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("answered after %s, before the 150ms delay", took)
	}
	<-u.got
	p.Remove(h)

	// A client that gives up first: nothing reaches the server.
	p.Add(Rule{Times: 1, Fault: Delay(time.Hour)})
	if _, _, err := do(t, client(t, 200*time.Millisecond), "PUT", p.URL()+"/b/k", strings.NewReader("x"), 1); err == nil {
		t.Fatal("PUT succeeded through an hour's delay")
	}

	// DelayResponse: the server completes the request, the client times out.
	p.Add(Rule{Times: 1, Fault: DelayResponse(time.Hour)})
	if _, _, err := do(t, client(t, 300*time.Millisecond), "PUT", p.URL()+"/b/k2", strings.NewReader("x"), 1); err == nil {
		t.Fatal("PUT succeeded through an hour's response delay")
	}
	if s := <-u.got; s.path != "/b/k2" || s.n != 1 {
		t.Errorf("upstream got %+v, want the PUT of /b/k2", s)
	}
	p.Close() // waits for the handlers: the delayed PUT of /b/k was dropped
	if n := u.count(); n != 2 {
		t.Errorf("upstream saw %d requests, want 2", n)
	}
	if st := p.Stats(); st.Faults != 3 || st.Requests != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseEndsDelays(t *testing.T) {
	u := startUpstream(t)
	p := startProxy(t, u, 1)
	entered := make(chan struct{})
	var once sync.Once
	p.Add(Rule{Match: Match{Func: func(*http.Request) bool { once.Do(func() { close(entered) }); return true }}, Fault: Delay(time.Hour)})
	errc := make(chan error, 1)
	c := client(t, time.Minute)
	go func() {
		_, _, err := do(t, c, "GET", p.URL()+"/x", nil, 0)
		errc <- err
	}()
	<-entered
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	if err := <-errc; err == nil {
		t.Error("GET succeeded through a closed proxy")
	}
}

func TestStartRejectsBadTarget(t *testing.T) {
	for _, target := range []string{"", "127.0.0.1:9000", "ftp://x", "http://"} {
		if p, err := Start(target, Options{}); err == nil {
			p.Close()
			t.Errorf("Start(%q) succeeded", target)
		}
	}
}

func TestUnreachableUpstream(t *testing.T) {
	u := startUpstream(t)
	p, err := Start(u.srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	u.srv.Close()
	resp, _, err := do(t, client(t, time.Minute), "GET", p.URL()+"/x", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadGateway || p.Stats().Errors != 1 {
		t.Errorf("status %d, stats %+v", resp.StatusCode, p.Stats())
	}
}

func TestCutReader(t *testing.T) {
	for _, tc := range []struct {
		body string
		n    int64
		want string
		err  error
	}{
		{"abcdef", 3, "abc", errCut},
		{"abc", 3, "abc", nil},
		{"ab", 3, "ab", nil},
		{"", 0, "", nil},
		{"a", 0, "", errCut},
	} {
		got, err := io.ReadAll(&cutReader{r: bytes.NewReader([]byte(tc.body)), left: tc.n})
		if string(got) != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("cut %q at %d: %q, %v; want %q, %v", tc.body, tc.n, got, err, tc.want, tc.err)
		}
	}
}
