// Package bqemu builds and starts github.com/goccy/bigquery-emulator for
// tests: the end-to-end proof that the bigquery output's base-table loads
// (NDJSON from gs:// URIs, WRITE_APPEND, job lookup by id) land rows that a
// query can count.
//
// The emulator is pinned by the separate module in tools/ (its go.mod
// requires github.com/goccy/bigquery-emulator at Version and declares the
// command as a tool). It is a module of its own so that neither its
// dependency versions nor its compile (about 270 s and 6 GB of memory on two
// cores, cold) touch barge's build; `go test ./...` in barge's module does
// not descend into it.
//
// Binary builds the emulator once into a cache directory
// ($BARGE_TEST_CACHE/bigquery-emulator-VERSION-KEY, or
// os.UserCacheDir()/barge-test/bigquery-emulator-VERSION-KEY), where KEY
// hashes the tools module's go.mod and go.sum and the Go version, under a
// file lock so that test packages running in parallel share one build. A
// build that fails fails the test with the tail of the go command's output:
// a missing emulator is never a skip.
//
// Each Start runs its own in-memory emulator on 127.0.0.1, killed in
// t.Cleanup, and by the kernel (Pdeathsig) if the test binary dies first.
//
// What the emulator does and does not do, as measured by bqemu_test.go, is
// listed in that file's comments. In short: it is faithful enough for
// base-table NDJSON loads, and not for partition decorators, 409 on a
// reused job id, Compression=GZIP, schema update options, failed-job
// status or load statistics; those are the job of package bqtest. Also
// (probed by output/internal/e2e/recovery_test.go): jobs.list carries no
// configuration, location or statistics (jobs.get does); a load into
// table$P writes a table literally named table$P; and a load refused at
// jobs.insert for one object's data has already loaded the objects
// listed before it.
package bqemu
