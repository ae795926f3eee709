// Package faultproxy is an HTTP reverse proxy for tests that injects faults
// between an object-storage client (barge's s3 and gcs outputs, the AWS and
// Google SDKs) and a test server (MinIO, fake-gcs-server).
//
//	p, err := faultproxy.Start("http://127.0.0.1:9000", faultproxy.Options{Seed: 1})
//	defer p.Close()
//	p.Add(faultproxy.Rule{Match: faultproxy.Match{Method: "PUT"}, Times: 5, Fault: faultproxy.S3ServiceUnavailable()})
//	// point the client at p.URL()
//
// It listens on 127.0.0.1 on a free port. Requests that no rule takes are
// forwarded unchanged and streamed both ways (request and response bodies
// of any size, chunked or not, are never held in memory), with the
// client's Host header kept: SigV4 signatures stay valid, and servers that
// build URLs from Host (fake-gcs-server's resumable upload Location) point
// back at the proxy, so every request of an S3 multipart or GCS resumable
// upload passes through it.
//
// A Rule matches requests by method, path prefix and the presence (or
// absence) of query parameters, and applies its Fault to the next Times
// matching requests, or to each with a Probability drawn from a rand seeded
// by Options.Seed, or to every matching request. The first rule, in the
// order added, that matches and still applies takes the request. Faults:
//
//   - Respond: answer with a status, headers and body without forwarding
//     (the request body is read first, as a server would). S3Error and
//     GCSError build the bodies those services send (XML, JSON).
//   - ResetRequest(n): forward the request with only its first n body bytes,
//     then reset both connections (SO_LINGER 0): the server sees a
//     truncated upload, the client a connection reset mid-upload.
//   - ResetResponse(n): forward the whole request, then send the client only
//     the first n bytes of the raw response (status line and headers count)
//     and reset: the server completed the request, the client never learns.
//   - Delay(d): hold the request for d before forwarding it (a client whose
//     timeout is shorter gives up before the server sees anything).
//   - DelayResponse(d): forward the request, then hold the response for d
//     (the server completed it; a client timeout fires first).
//
// Counters: Stats (requests, faults injected, forwarded, proxy errors), the
// Applied count of each rule, and Log, the list of every request seen with
// the fault applied to it and the status returned.
package faultproxy
