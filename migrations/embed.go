// Package migrations holds the database schema as numbered golang-migrate
// files (NNNNNN_name.up.sql / .down.sql), embedded in the binary so that
// `presencebridge migrate up` needs nothing beside it.
//
// Each file runs as one implicit transaction (one simple-protocol query), so
// a failing file leaves nothing half-applied. Keep one concern per file and
// never put BEGIN/COMMIT or CREATE INDEX CONCURRENTLY beside other statements.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
