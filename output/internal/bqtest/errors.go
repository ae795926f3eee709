package bqtest

import (
	"encoding/json"
	"net/http"

	bq "google.golang.org/api/bigquery/v2"
)

// apiError is an error as BigQuery reports it: in an HTTP error body or in
// a job's status.errorResult.
type apiError struct {
	code     int    // HTTP status when it answers a request
	reason   string // notFound, duplicate, invalid, backendError, ...
	message  string
	location string // job errors: the gs:// URI or table it concerns
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) proto() *bq.ErrorProto {
	return &bq.ErrorProto{Reason: e.reason, Message: e.message, Location: e.location}
}

func errNotFound(msg string) *apiError {
	return &apiError{code: http.StatusNotFound, reason: "notFound", message: msg}
}

func errDuplicate(msg string) *apiError {
	return &apiError{code: http.StatusConflict, reason: "duplicate", message: msg}
}

func errInvalid(msg string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalid", message: msg}
}

// reasonFor is the reason BigQuery gives with an HTTP status.
func reasonFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "invalid"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "accessDenied"
	case http.StatusNotFound:
		return "notFound"
	case http.StatusConflict:
		return "duplicate"
	case http.StatusPreconditionFailed:
		return "conditionNotMet"
	case http.StatusTooManyRequests:
		return "rateLimitExceeded"
	case http.StatusInternalServerError:
		return "internalError"
	case http.StatusNotImplemented:
		return "notImplemented"
	default:
		return "backendError"
	}
}

// statusFor is the google.rpc status name of an HTTP status.
func statusFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusPreconditionFailed:
		return "FAILED_PRECONDITION"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	default:
		return "INTERNAL"
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Errors  []errorEntry `json:"errors"`
	Status  string       `json:"status"`
}

type errorEntry struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// writeError answers a request with Google's JSON error format.
func writeError(w http.ResponseWriter, e *apiError) {
	code := e.code
	if code == 0 {
		code = http.StatusBadRequest
	}
	writeJSON(w, code, errorBody{Error: errorDetail{
		Code:    code,
		Message: e.message,
		Errors:  []errorEntry{{Message: e.message, Domain: "global", Reason: e.reason}},
		Status:  statusFor(code),
	}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":{"code":500,"message":"bqtest: encode response","status":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(b)
}

// readJSON decodes a request body, answering 400 when it is not JSON.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeError(w, errInvalid("Invalid JSON payload received. "+err.Error()))
		return false
	}
	return true
}
