// Package loadbench is make bench-load: the whole system at a million
// users on one machine, measured (issue 16). It runs on loopback what the
// fault suite runs (internal/faults: the binaries built from the working
// tree, PostgreSQL from the local binaries — here with fsync on —, graphsim
// as its own process, a recording receiver verifying every webhook), with
// 1,000 tenants and 1,000,000 users onboarded through the product's own
// onboarding service, and writes each figure beside its target into
// BENCHMARKS.md.
//
// The run is a test behind the loadbench build tag (run_test.go): it
// reuses the fault suite's harness, which is built on testing.TB and its
// cleanups, and `go test` builds it with the module; `go test ./...` does
// not compile it in, so make test never starts a run of minutes. What the
// run computes (the directory's layout, process figures from /proc, the
// percentiles, the report) is in this package's other files, tested
// without the tag.
package loadbench
