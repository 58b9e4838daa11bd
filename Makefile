# Presence Bridge. The two commands a fresh machine needs:
#   make dev    run the whole product on an embedded PostgreSQL
#   make test   run every test (real PostgreSQL, real HTTP, real Chromium)
# Both install missing system packages first (apt-get when root, else they
# print the command to run).

GO       ?= go
PB_BIN   ?= bin/presencebridge
GS_BIN   ?= bin/graphsim
GOFLAGS  ?=
export GOFLAGS
# Rich notifications' RSA unwrap runs on OpenSSL's libcrypto through cgo:
# ~0.27 ms a key instead of crypto/rsa's ~1.06 ms, which bounds intake.
# GOTAGS= builds static, pure-Go binaries instead.
GOTAGS   ?= openssl
CGO      := $(if $(filter openssl,$(GOTAGS)),1,0)
WITH_CGO := $(if $(filter openssl,$(GOTAGS)),CGO_ENABLED=1)

.PHONY: dev test faults bench bench-intake-ratio bench-load lint staticcheck vulncheck generate check-generated check-sql check-graph-deps check-compose ci build \
        build-graphsim deps-dev deps-test deps-ci fuzz-short fuzz-long

# The binary is built, then run: `go run` exits 1 whenever its child was
# interrupted, so a clean Ctrl-C would end in make's "Error 1".
dev: deps-dev build
	$(PB_BIN) dev

# Every package with GOTAGS, and the notification package once more
# without them, so both RSA unwraps stay tested.
test: deps-test
	$(WITH_CGO) $(GO) test -race -count=1 -tags '$(GOTAGS)' ./...
	$(GO) test -count=1 -tags '' ./internal/notification

# The fuzz targets, package:Fuzzer. `make test` runs their committed
# corpora (testdata/fuzz) as tests; fuzz-short (in `make ci`) fuzzes each
# for FUZZSHORT inputs (seconds), fuzz-long for FUZZTIME, a million by
# default (FAULTS.md#fuzzing). -fuzz takes one target of one package at a
# time. Counts, not durations: a duration that ends while a loaded machine
# is still running the corpus fails with "context deadline exceeded".
# A new corpus entry is shrunk for a second at most: shrinking one grown
# from the 22 KB deep-JSON entries stalls the worker for the default minute.
FUZZ_TARGETS := internal/notification:FuzzParse internal/notification:FuzzDecrypt internal/notification:FuzzUnmarshalDecodesAsEncodingJSON \
	internal/notification:FuzzValidationTokens web/graphhook:FuzzValidationHandshake \
	web/graphhook:FuzzNotificationPOST internal/links:FuzzLinkTokens internal/presence:FuzzMappingRules \
	internal/roster:FuzzRosterImport web/api:FuzzAPIBodies
FUZZSHORT    ?= 10000x
FUZZTIME     ?= 1000000x
FUZZPARALLEL ?= 1
fuzz-short: FUZZTIME = $(FUZZSHORT)
fuzz-short fuzz-long:
	@sh .ci/install-deps $(filter openssl,$(GOTAGS))
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ./$${t%%:*} -fuzztime $(FUZZTIME)"; \
		$(WITH_CGO) $(GO) test -tags '$(GOTAGS)' -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) \
			-fuzzminimizetime 1s -parallel $(FUZZPARALLEL) ./$${t%%:*} || exit 1; \
	done

# The fault suite in full (FAULTS.md): every scenario, with the faults build
# tag, long traffic and 30 s outages, each ledger printed; about 15 minutes.
# make test runs the short form of two of them.
faults: deps-test
	PB_FAULTS_FULL=1 PB_FAULTS_GOTAGS='$(GOTAGS)' $(WITH_CGO) $(GO) test -count=1 -timeout 60m -tags '$(GOTAGS) faults' -v ./internal/faults

bench: deps-test
	$(WITH_CGO) $(GO) test -tags '$(GOTAGS)' -run '^$$' -bench . -benchmem ./...

# Durable intake as a ratio of the minimal reference receiver
# (bench/reference-receiver): its ratio.sh alternates the product's
# BenchmarkIntakeThroughput and the reference fed the same batches, on a
# fresh fsync-on PostgreSQL, ROUNDS times, and prints each round's ratio
# (issue 16's target: 0.9 or more). Needs root (it starts PostgreSQL as
# user postgres) and PostgreSQL 15's server binaries; a minute or two a round
# on the 2-core machine (the first builds the benchmark).
ROUNDS ?= 3
bench-intake-ratio: deps-dev
	bench/reference-receiver/ratio.sh . $(ROUNDS)

# The whole system at a million users on this machine (issue 16,
# internal/loadbench): PostgreSQL with fsync on, graphsim with 1,000
# tenants and 1,000,000 users, the product as serve and then as web and two
# workers, a receiver verifying every webhook; cold start to every user
# subscribed, repair of 100,000 users after a gap, latency at 1,000 and
# 5,000 changes/s, memory, sizes, CPU; then a round of make
# bench-intake-ratio and the engine's renewals over a simulated hour.
# Writes its section of BENCHMARKS.md. BENCH_FULL=1 soaks longer (phases of
# 2 minutes, a million first states delivered, the renewals after the load).
# PB_LOAD_TENANTS, PB_LOAD_USERS, PB_LOAD_RATES, PB_LOAD_PHASE_SECONDS,
# PB_LOAD_REPAIR_USERS, PB_LOAD_REFERENCE_ROUNDS (0: none) and
# PB_LOAD_RENEWAL_TENANTS change its size (PB_LOAD_REPORT= writes nothing).
PB_LOAD_REPORT ?= $(CURDIR)/BENCHMARKS.md
bench-load: deps-dev
	BENCH_FULL='$(BENCH_FULL)' PB_LOAD_REPORT='$(PB_LOAD_REPORT)' PB_LOAD_COMMAND='make bench-load$(if $(BENCH_FULL), BENCH_FULL=$(BENCH_FULL))' \
		PB_FAULTS_GOTAGS='$(GOTAGS)' $(WITH_CGO) $(GO) test -count=1 -timeout 90m -tags '$(GOTAGS) loadbench' -run '^TestLoad$$' -v ./internal/loadbench

build:
	CGO_ENABLED=$(CGO) $(GO) build -tags '$(GOTAGS)' -trimpath -o $(PB_BIN) ./cmd/presencebridge

# The Microsoft Graph emulator on its own (make dev runs one in-process).
build-graphsim:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(GS_BIN) ./cmd/graphsim

generate:
	$(GO) tool templ fmt templates
	$(GO) tool templ generate

# templ generate, then fail on any change to tracked files or any new file:
# `git diff` alone misses a generated file that was never committed.
check-generated: generate
	@changes="$$(git status --porcelain -- . ':!.data')"; \
	if [ -n "$$changes" ]; then \
		echo "generated files are out of date or uncommitted (run make generate and commit):"; \
		echo "$$changes"; git --no-pager diff --stat; exit 1; \
	fi

# gofmt, vet (with and without the openssl tag), a tidy go.mod (a
# requirement missing, unused or marked `// indirect` wrongly fails here)
# and staticcheck.
lint: staticcheck check-sql
	@unformatted="$$(git ls-files '*.go' | grep -v '_templ.go$$' | xargs gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) vet -tags openssl ./internal/notification
	$(GO) mod tidy -diff

# staticcheck, a tool dependency in go.mod (`go tool staticcheck`), so every
# machine runs the same version; what it should not report is marked in the
# code with //lint:ignore and the reason.
staticcheck:
	$(WITH_CGO) $(GO) tool staticcheck -tags '$(GOTAGS)' ./...

# govulncheck, a tool dependency in go.mod, reads the Go vulnerability
# database, and vuln.go.dev cannot be reached from here or from CI. The module
# proxy serves that database's source, golang.org/x/vulndb, whose data/osv
# holds every report as OSV JSON; vulndb's own indexdb turns it into the
# file:// database govulncheck reads (the first run builds indexdb: minutes).
# Reports are as recent as VULNDB: move it on to see newer ones.
# Not part of `make ci`: on 2026-12-01 it finds 13 standard-library
# vulnerabilities of go1.26.8 fixed in go1.26.9/go1.26.10, which the proxy does
# not serve (its only approved toolchain is go1.27.3), and GO-2026-5224 in
# github.com/microsoft/kiota-http-go v1.5.4, fixed in v1.5.5.
VULNDB     ?= golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
VULNDB_DIR := $(CURDIR)/.data/vulndb
vulncheck:
	@osv="$$(cd / && $(GO) mod download -json $(VULNDB) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')/data/osv"; \
	rm -rf $(VULNDB_DIR) && cd / && $(GO) run $(subst @,/cmd/indexdb@,$(VULNDB)) -vulns "$$osv" -out $(VULNDB_DIR)
	$(GO) tool govulncheck -db file://$(VULNDB_DIR) ./...

# msgraph-sdk-go costs minutes and gigabytes to compile: only internal/graph,
# the acceptance tests that drive the real client against graphsim — the
# engine's (internal/engine/enginetest) and the tenant pages' (web/tenantui
# through web/portal/portaltest: portal admins looked up in the directory,
# an Entra group roster monitored after the engine's pass) — and the
# binaries in cmd/ may link it, so every other test binary stays small.
# Every SQL statement of the product lives in internal/store (and the
# migrations); tests may read tables directly to check outcomes.
check-sql:
	@found="$$(git ls-files '*.go' | grep -v '_test\.go$$' | grep -vE '^(internal/store|migrations)/' \
		| xargs grep -nE "[\`\"][[:space:]]*(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|DATABASE|INDEX|UNIQUE)|ALTER TABLE|DROP |TRUNCATE|LISTEN|UNLISTEN|NOTIFY|WITH [a-z_]+ AS)\b" || true)"; \
	if [ -n "$$found" ]; then echo "SQL outside internal/store:"; echo "$$found"; exit 1; fi

check-graph-deps:
	@leaks="$$($(GO) list -test -f '{{.ImportPath}}{{range .Deps}} {{.}}{{end}}' ./... \
		| grep ' github.com/microsoftgraph/msgraph-sdk-go' | awk '{print $$1}' | sort -u \
		| grep -vE '^presencebridge/(cmd/|internal/graph( |$$|\.test|_test)|internal/engine/enginetest( |$$|\.test)|web/portal/portaltest$$|web/(tenantui|console)(\.test|_test)$$)' || true)"; \
	if [ -n "$$leaks" ]; then echo "msgraph-sdk-go is linked by packages other than internal/graph and the acceptance tests allowed above:"; echo "$$leaks"; exit 1; fi

# Validates docker-compose.yml where a compose client exists; no engine needed.
# The required secrets get placeholder values: only the structure is checked.
check-compose: export POSTGRES_PASSWORD = placeholder
check-compose: export PB_BASE_URL = https://bridge.example.com
check-compose: export PB_SEAL_KEYS = placeholder
check-compose:
	@if docker compose version >/dev/null 2>&1; then docker compose -f docker-compose.yml config -q; \
	elif command -v docker-compose >/dev/null 2>&1; then docker-compose -f docker-compose.yml config -q; \
	else echo "no compose client: docker-compose.yml not validated"; exit 1; fi
	@echo "docker-compose.yml is valid"

ci: deps-ci check-generated lint check-graph-deps check-compose test fuzz-short

# --- system packages ---------------------------------------------------------

deps-dev:
	@sh .ci/install-deps postgres $(filter openssl,$(GOTAGS))

deps-test:
	@sh .ci/install-deps postgres chromium $(filter openssl,$(GOTAGS))

deps-ci:
	@sh .ci/install-deps postgres chromium compose openssl
