package faultproxy

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Match selects requests. The zero Match matches every request.
type Match struct {
	Method     string   // "" matches any method
	PathPrefix string   // "" matches any path
	Query      []string // query parameters that must be present ("uploadId", "uploads", "uploadType")
	NoQuery    []string // query parameters that must be absent
	// Func, when set, must also return true.
	Func func(*http.Request) bool
}

func (m Match) matches(r *http.Request) bool {
	if m.Method != "" && !strings.EqualFold(m.Method, r.Method) {
		return false
	}
	if m.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, m.PathPrefix) {
		return false
	}
	q := r.URL.Query()
	for _, k := range m.Query {
		if !q.Has(k) {
			return false
		}
	}
	for _, k := range m.NoQuery {
		if q.Has(k) {
			return false
		}
	}
	return m.Func == nil || m.Func(r)
}

// Rule applies Fault to requests that Match selects.
type Rule struct {
	Match Match
	// Times > 0: apply to the next Times matching requests, then no more.
	Times int
	// Probability in (0, 1]: apply to each matching request with this
	// probability (Options.Seed makes the sequence repeatable). With
	// neither Times nor Probability the rule applies to every matching
	// request. With both, to at most Times requests, each with Probability.
	Probability float64
	Fault       Fault
}

type faultKind int

const (
	kindRespond faultKind = iota + 1
	kindResetRequest
	kindResetResponse
	kindDelay
	kindDelayResponse
)

// Fault is what happens to a request a Rule takes. Build one with Respond,
// S3Error, GCSError, ResetRequest, ResetResponse, Delay or DelayResponse.
type Fault struct {
	kind   faultKind
	status int
	header http.Header
	body   string
	n      int64
	delay  time.Duration
}

// String describes the fault for logs: "503", "reset-request@1024",
// "reset-response@0", "delay 2s", "delay-response 2s".
func (f Fault) String() string {
	switch f.kind {
	case kindRespond:
		return fmt.Sprint(f.status)
	case kindResetRequest:
		return fmt.Sprintf("reset-request@%d", f.n)
	case kindResetResponse:
		return fmt.Sprintf("reset-response@%d", f.n)
	case kindDelay:
		return "delay " + f.delay.String()
	case kindDelayResponse:
		return "delay-response " + f.delay.String()
	}
	return "none"
}

// Respond answers with status, header and body; the request is not
// forwarded. The request body is read (and discarded) first.
func Respond(status int, header http.Header, body string) Fault {
	return Fault{kind: kindRespond, status: status, header: header.Clone(), body: body}
}

// S3Error answers as S3 does: an XML <Error> document with code and message.
func S3Error(status int, code, message string) Fault {
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		"<Error><Code>" + html.EscapeString(code) + "</Code><Message>" + html.EscapeString(message) +
		"</Message><RequestId>faultproxy</RequestId><HostId>faultproxy</HostId></Error>"
	h := http.Header{"Content-Type": {"application/xml"}, "X-Amz-Request-Id": {"faultproxy"}}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		h.Set("Retry-After", "0")
	}
	return Respond(status, h, body)
}

// S3ServiceUnavailable is S3's 503 ServiceUnavailable.
func S3ServiceUnavailable() Fault {
	return S3Error(http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate.")
}

// S3SlowDown is a throttling answer with S3's SlowDown code and HTTP 429
// (S3 itself sends SlowDown with 503; S3-compatible stores use 429 too).
func S3SlowDown() Fault {
	return S3Error(http.StatusTooManyRequests, "SlowDown", "Please reduce your request rate.")
}

// S3AccessDenied is S3's 403 AccessDenied.
func S3AccessDenied() Fault {
	return S3Error(http.StatusForbidden, "AccessDenied", "Access Denied")
}

// GCSError answers as the GCS JSON API does: {"error": {"code", "message",
// "errors": [{"domain", "reason", "message"}]}}.
func GCSError(status int, reason, message string) Fault {
	type item struct {
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	var doc struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Errors  []item `json:"errors"`
		} `json:"error"`
	}
	doc.Error.Code = status
	doc.Error.Message = message
	doc.Error.Errors = []item{{Domain: "global", Reason: reason, Message: message}}
	b, _ := json.Marshal(doc) // plain strings and ints: cannot fail
	return Respond(status, http.Header{"Content-Type": {"application/json; charset=UTF-8"}}, string(b))
}

// GCSServiceUnavailable is GCS's 503 backendError.
func GCSServiceUnavailable() Fault {
	return GCSError(http.StatusServiceUnavailable, "backendError", "Backend Error")
}

// GCSRateLimited is GCS's 429 rateLimitExceeded.
func GCSRateLimited() Fault {
	return GCSError(http.StatusTooManyRequests, "rateLimitExceeded", "The rate of change requests to the object is too high.")
}

// GCSForbidden is GCS's 403 forbidden.
func GCSForbidden() Fault {
	return GCSError(http.StatusForbidden, "forbidden", "barge@example.iam.gserviceaccount.com does not have storage.objects.create access.")
}

// ResetRequest forwards the request with its first n body bytes, then
// resets the client's and the server's connections. A body of at most n
// bytes is forwarded whole and the client's connection is reset before any
// byte of the response.
func ResetRequest(n int64) Fault { return Fault{kind: kindResetRequest, n: n} }

// ResetResponse forwards the whole request and the server's response
// until n bytes of it (status line and headers included) reached the
// client, then resets the client's connection.
func ResetResponse(n int64) Fault { return Fault{kind: kindResetResponse, n: n} }

// Delay holds the request for d, then forwards it. If the client gives up
// first, nothing is forwarded.
func Delay(d time.Duration) Fault { return Fault{kind: kindDelay, delay: d} }

// DelayResponse forwards the request, then holds the server's response for
// d before it is sent to the client.
func DelayResponse(d time.Duration) Fault { return Fault{kind: kindDelayResponse, delay: d} }

// Handle is a rule added to a Proxy.
type Handle struct {
	rule    Rule
	left    atomic.Int64 // remaining applications when rule.Times > 0
	applied atomic.Int64
	removed atomic.Bool
}

// Applied is how many requests the rule took.
func (h *Handle) Applied() int { return int(h.applied.Load()) }

// Exhausted reports whether a rule with Times has been applied Times times.
func (h *Handle) Exhausted() bool { return h.rule.Times > 0 && h.left.Load() <= 0 }
