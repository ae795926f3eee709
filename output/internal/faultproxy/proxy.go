package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Proxy.
type Options struct {
	// Seed seeds the rand that Rule.Probability draws from.
	Seed uint64
	// Logf, when set, gets one line per request that a rule took and per
	// proxy error (t.Logf fits, as long as the proxy is closed before the
	// test ends).
	Logf func(format string, args ...any)
}

// Stats are the proxy's counters.
type Stats struct {
	Requests  int64 // requests received
	Faults    int64 // requests a rule took
	Forwarded int64 // requests forwarded whole, with or without a delay
	Errors    int64 // requests the proxy could not forward (answered 502)
}

// Entry is one request the proxy saw.
type Entry struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	Header   http.Header // the request's headers
	Fault    string      // the fault applied ("" when forwarded untouched)
	Status   int         // the status sent to the client; 0 when the connection was reset or the client left
}

// maxLog bounds the request log.
const maxLog = 100_000

// Proxy is a fault-injecting reverse proxy. Build one with Start.
type Proxy struct {
	target    *url.URL
	ln        net.Listener
	srv       *http.Server
	rp        *httputil.ReverseProxy
	transport *http.Transport
	logf      func(string, ...any)

	mu    sync.Mutex
	rules []*Handle
	rnd   *rand.Rand
	log   []Entry

	requests, faults, forwarded, errs atomic.Int64

	closeMu   sync.RWMutex
	closed    bool
	closing   chan struct{}
	handlers  sync.WaitGroup
	serveDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

type ctxKey struct{}

// Start listens on 127.0.0.1 on a free port and proxies to target
// ("http://127.0.0.1:9000"). Close stops it.
func Start(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q: want http://HOST:PORT", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		target: u,
		ln:     ln,
		logf:   opts.Logf,
		rnd:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       30 * time.Second,
			ExpectContinueTimeout: time.Second,
			// Pass Content-Encoding through as the server sent it.
			DisableCompression: true,
		},
		closing:   make(chan struct{}),
		serveDone: make(chan struct{}),
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.target)
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
			pr.Out.Host = pr.In.Host // SigV4 signs Host; fake-gcs-server builds URLs from it
		},
		Transport:      p.transport,
		FlushInterval:  -1,
		ModifyResponse: p.delayResponse,
		ErrorHandler:   p.proxyError,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.serveDone)
		p.srv.Serve(ln)
	}()
	return p, nil
}

// Addr is the proxy's "127.0.0.1:PORT".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the proxy's "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Add appends a rule and returns its handle.
func (p *Proxy) Add(r Rule) *Handle {
	h := &Handle{rule: r}
	h.left.Store(int64(r.Times))
	p.mu.Lock()
	p.rules = append(p.rules, h)
	p.mu.Unlock()
	return h
}

// Remove removes a rule; requests already taken by it finish their fault.
func (p *Proxy) Remove(h *Handle) {
	h.removed.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, r := range p.rules {
		if r == h {
			p.rules = append(p.rules[:i:i], p.rules[i+1:]...)
			return
		}
	}
}

// Clear removes every rule.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.rules {
		h.removed.Store(true)
	}
	p.rules = nil
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{Requests: p.requests.Load(), Faults: p.faults.Load(), Forwarded: p.forwarded.Load(), Errors: p.errs.Load()}
}

// Log returns a copy of the request log (at most the first 100,000
// requests), in the order the requests finished.
func (p *Proxy) Log() []Entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Entry(nil), p.log...)
}

// Count is the number of logged requests that m selects (Match.Func is
// given a request with only Method, URL and Header set).
func (p *Proxy) Count(m Match) int {
	n := 0
	for _, e := range p.Log() {
		r := &http.Request{Method: e.Method, URL: &url.URL{Path: e.Path, RawQuery: e.RawQuery}, Header: e.Header}
		if m.matches(r) {
			n++
		}
	}
	return n
}

// Close stops listening, closes every connection, ends delays and waits
// for the requests in progress. It is idempotent.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.closeMu.Lock()
		p.closed = true
		p.closeMu.Unlock()
		close(p.closing)
		p.closeErr = p.srv.Close()
		<-p.serveDone
		p.handlers.Wait()
		p.transport.CloseIdleConnections()
	})
	return p.closeErr
}

// pick returns the rule that takes r, or nil.
func (p *Proxy) pick(r *http.Request) *Handle {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.rules {
		if !h.rule.Match.matches(r) {
			continue
		}
		if h.rule.Times > 0 && h.left.Load() <= 0 {
			continue
		}
		if pr := h.rule.Probability; pr > 0 && p.rnd.Float64() >= pr {
			continue
		}
		if h.rule.Times > 0 {
			h.left.Add(-1)
		}
		h.applied.Add(1)
		return h
	}
	return nil
}

func (p *Proxy) record(r *http.Request, fault string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.log) < maxLog {
		p.log = append(p.log, Entry{Time: time.Now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Fault: fault, Status: status})
	}
}

func (p *Proxy) printf(format string, args ...any) {
	if p.logf != nil {
		p.logf(format, args...)
	}
}

// ServeHTTP applies the first rule that takes r, or forwards it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.closeMu.RLock()
	if p.closed {
		p.closeMu.RUnlock()
		http.Error(w, "faultproxy: closed", http.StatusServiceUnavailable)
		return
	}
	p.handlers.Add(1)
	p.closeMu.RUnlock()
	defer p.handlers.Done()

	p.requests.Add(1)
	h := p.pick(r)
	if h == nil {
		sw := &statusWriter{ResponseWriter: w}
		p.forward(sw, r)
		p.record(r, "", sw.status)
		return
	}
	f := h.rule.Fault
	p.faults.Add(1)
	p.printf("faultproxy: %s %s?%s: %s", r.Method, r.URL.Path, r.URL.RawQuery, f)
	status := 0
	switch f.kind {
	case kindRespond:
		io.Copy(io.Discard, r.Body) // as a server reads the request before answering
		for k, v := range f.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(f.body)))
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		status = f.status
	case kindResetRequest:
		p.resetRequest(w, r, f.n)
	case kindResetResponse:
		p.resetResponse(w, r, f.n)
	case kindDelay:
		if !p.wait(r.Context(), f.delay) {
			reset(w) // the client left or the proxy closes: answer nothing
			break
		}
		sw := &statusWriter{ResponseWriter: w}
		p.forward(sw, r)
		status = sw.status
	case kindDelayResponse:
		sw := &statusWriter{ResponseWriter: w}
		p.forward(sw, r.WithContext(context.WithValue(r.Context(), ctxKey{}, f.delay)))
		status = sw.status
	}
	p.record(r, f.String(), status)
}

// wait waits d, reporting false when the client left or the proxy closes first.
func (p *Proxy) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-p.closing:
		return false
	}
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	p.forwarded.Add(1)
	p.rp.ServeHTTP(w, r)
}

// delayResponse is the ReverseProxy's ModifyResponse: it holds a response
// for the DelayResponse fault that took its request.
func (p *Proxy) delayResponse(resp *http.Response) error {
	d, ok := resp.Request.Context().Value(ctxKey{}).(time.Duration)
	if !ok {
		return nil
	}
	if !p.wait(resp.Request.Context(), d) {
		return errors.New("faultproxy: response delay interrupted")
	}
	return nil
}

func (p *Proxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	select {
	case <-p.closing:
		reset(w)
		return
	default:
	}
	if r.Context().Err() != nil {
		reset(w) // the client left
		return
	}
	p.errs.Add(1)
	p.printf("faultproxy: %s %s: %v", r.Method, r.URL.Path, err)
	w.WriteHeader(http.StatusBadGateway)
}

// errCut ends the body of a request that ResetRequest cuts.
var errCut = errors.New("faultproxy: request body cut")

// outRequest is r addressed to the target, with body.
func (p *Proxy) outRequest(r *http.Request, body io.Reader) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	u := *p.target
	u.Path, u.RawPath, u.RawQuery = r.URL.Path, r.URL.RawPath, r.URL.RawQuery
	out.URL = &u
	out.Host = r.Host
	for _, h := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		out.Header.Del(h)
	}
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	} else {
		out.Body = io.NopCloser(body)
	}
	return out
}

// resetRequest forwards r with its first n body bytes, then resets.
func (p *Proxy) resetRequest(w http.ResponseWriter, r *http.Request, n int64) {
	resp, err := p.transport.RoundTrip(p.outRequest(r, &cutReader{r: r.Body, left: n}))
	if err == nil {
		resp.Body.Close() // the body was shorter than n, or the server answered early
	}
	reset(w)
}

// resetResponse forwards r whole and sends the client the first n bytes of
// the response, then resets.
func (p *Proxy) resetResponse(w http.ResponseWriter, r *http.Request, n int64) {
	resp, err := p.transport.RoundTrip(p.outRequest(r, r.Body))
	if err != nil {
		p.proxyError(w, r, err)
		return
	}
	defer resp.Body.Close()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	resp.Write(&cutWriter{w: conn, left: n})
	abort(conn)
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	abort(conn)
}

func abort(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// cutReader reads r until left bytes were read, then fails with errCut if
// r has more (and ends normally if it has not).
type cutReader struct {
	r    io.Reader
	left int64
}

func (c *cutReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := io.ReadFull(c.r, one[:])
		if n > 0 {
			return 0, errCut
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// cutWriter writes the first left bytes to w, then fails.
type cutWriter struct {
	w    io.Writer
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	short := int64(len(b)) > c.left
	if short {
		b = b[:c.left]
	}
	n, err := c.w.Write(b)
	c.left -= int64(n)
	if err == nil && short {
		err = errCut
	}
	return n, err
}

// statusWriter records the status a forwarded response was sent with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
