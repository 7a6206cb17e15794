# Canopy — the two commands: `make run` and `make test`.
GO      ?= go
BIN     := bin/canopy
PKGS    := ./...

.PHONY: run build generate test test-postgres test-e2e test-cluster fuzz check-generated fmt vet lint clean bench-data devidp webhook-receiver

## run: build, migrate, load demo data into an empty database, serve on :8080
run: build
	$(BIN) serve --seed-demo-if-empty

## devidp: the development OpenID Connect provider on 127.0.0.1:9998 (client canopy-dev), until Ctrl-C;
## the demo data sends acme.test's single sign-on there
devidp:
	$(GO) run ./cmd/canopy devidp

## webhook-receiver: print the webhooks delivered to http://127.0.0.1:9997/webhooks, verified with the
## demo endpoint's secret (or SECRET=whsec_… for an endpoint of your own), until Ctrl-C
webhook-receiver:
	$(GO) run ./cmd/canopy webhook-receiver $(if $(SECRET),--secret $(SECRET))

build: generate
	$(GO) build -o $(BIN) ./cmd/canopy

## generate: regenerate templ views (committed; CI checks they are fresh)
generate:
	$(GO) tool templ generate -log-level error

# TESTFLAGS: every test under the race detector, with a budget (about four
# times what an idle run takes) that fails a stuck or badly slowed run
# clearly instead of at go test's 10-minute default. The race detector also
# turns on checkptr, which checks unsafe pointer arithmetic; it is switched
# off for the pure-Go SQLite engine only (machine-translated C: it has no
# bearing on Canopy's code, and checking it doubled the handler tests' time).
TESTFLAGS ?= -race -count=1 -timeout 8m -gcflags='modernc.org/...=-d=checkptr=0'

## test: unit and handler tests on SQLite (and on Postgres when CANOPY_TEST_DATABASE_URL is set)
test: generate
	$(GO) test $(TESTFLAGS) $(PKGS)

## test-postgres: the same tests against the local PostgreSQL server
test-postgres:
	CANOPY_TEST_DATABASE_URL=$${CANOPY_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable} \
		$(GO) test $(TESTFLAGS) ./models/... ./handlers/... ./internal/... ./cmd/...

## test-e2e: browser tests in headless Chromium (needs /usr/bin/chromium). The budget is
## about twice what a run takes on a busy two-core machine (TestEveryPage alone visits
## every page four times with axe), so a stuck run fails clearly instead of at go test's 10 minutes.
test-e2e:
	CANOPY_E2E=1 $(GO) test -count=1 -timeout 25m -v ./e2e/...

## test-cluster: three instances behind HAProxy on one PostgreSQL under row-level security, then
## through PgBouncer: migrations at once, flows across instances, rolling restart, a killed
## instance, sign-in throttling, PostgreSQL restarted (cluster/, docs/scaling.md). Makes and drops a
## PostgreSQL cluster of its own; needs root, haproxy and pgbouncer. About two minutes; the budget
## fails a stuck run clearly.
test-cluster:
	CANOPY_CLUSTER=1 $(GO) test -count=1 -timeout 8m -v ./cluster/

## bench-data: load the large benchmark platform into Postgres (BENCH_DATABASE_URL, a superuser;
## creates the database; a second run sees the data and stops). Reload: canopy seed --scale --recreate-database
bench-data:
	url=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/canopy_bench?sslmode=disable}; \
		DATABASE_URL=$$url DATABASE_OWNER_URL=$$url $(GO) run ./cmd/canopy seed --scale --create-database

## bench: serve the bench-data database and drive each page with 32 signed-in clients; prints the
## table and writes bench/results.md (BENCH_FLAGS, e.g. BENCH_FLAGS="-duration 2s -only healthz,home")
.PHONY: bench
bench:
	BENCH_DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/canopy_bench?sslmode=disable} \
		$(GO) run ./bench $(BENCH_FLAGS)

## fuzz: every fuzz target briefly, after replaying its committed corpus (FUZZTIME=5s)
fuzz:
	bash .ci/fuzz

## check-generated: fail when committed templ output is stale
check-generated: generate
	@git diff --exit-code -- '*_templ.go' || (echo "templ output is stale: run 'make generate' and commit" && exit 1)
	@test -z "$$(git ls-files --others --exclude-standard -- '*_templ.go')" || (echo "uncommitted generated templ files" && exit 1)

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

## lint: golangci-lint, pinned in its own module file so that its many
## dependencies stay out of Canopy's go.mod; configured in .golangci.yml
lint:
	$(GO) tool -modfile=tools/golangci-lint.mod golangci-lint run ./...

clean:
	rm -rf bin
