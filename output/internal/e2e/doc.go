// Package e2e holds the end-to-end tests of barge with its object-store
// outputs: the real barge binary (built by TestMain from cmd/barge),
// records sent with fluent-logger-golang and acks, and real servers on
// 127.0.0.1 behind output/internal/faultproxy: MinIO (output/internal/minio)
// for @type s3 and fake-gcs-server in the test process for @type gcs.
// Objects are read back with the AWS and Google SDKs and every record is
// counted.
//
// The tests live here, not in cmd/barge, because Go's internal rule lets
// only packages under output/ import the fault proxy and the MinIO
// starter. The package has no non-test code.
package e2e
