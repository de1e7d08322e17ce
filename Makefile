# Tally — the two commands a newcomer needs are `make run` and `make test`.
SWIFT    ?= swift
DATA     ?= ./data/store
DEMO_ROWS ?= 2000000
DEMO_DAYS ?= 30
SUDO     := $(shell [ "$$(id -u)" = "0" ] || echo sudo)
BIN      := .build/release/tally

.PHONY: deps test-deps build release test run bench bench-peers load clean

# Installs what building and running need on a fresh Debian machine: liblz4 and SQLite headers, pkg-config
# (apt-get only when absent).
deps:
	@missing=""; \
	command -v pkg-config >/dev/null 2>&1 || missing="$$missing pkg-config"; \
	pkg-config --exists liblz4 2>/dev/null || missing="$$missing liblz4-dev"; \
	pkg-config --exists sqlite3 2>/dev/null || missing="$$missing libsqlite3-dev"; \
	if [ -n "$$missing" ]; then \
		echo "==> installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# What only the tests need: python3 with pip, curl, chromium with its driver for the console checks, pdftotext
# (poppler-utils) that the PDF report tests read their PDFs with, the PyPI
# packages the test scripts drive (Tests/requirements.txt: the real client libraries and parsers), and Tally's own
# Python client (clients/python), installed with pip as the README says (its example runs in the README test).
test-deps: deps
	@missing=""; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	python3 -m pip --version >/dev/null 2>&1 || missing="$$missing python3-pip"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
		echo "==> installing$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	python3 -m pip install -q -r Tests/requirements.txt 2>/dev/null \
		|| python3 -m pip install -q --break-system-packages -r Tests/requirements.txt
	python3 -m pip install -q ./clients/python 2>/dev/null \
		|| python3 -m pip install -q --break-system-packages ./clients/python

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product tally

# Unit and integration tests, the web console in headless Chromium (screenshots in .build/browser-screenshots),
# then every ```sh block of README.md as written against a server set up as `make run` sets it up.
test: test-deps
	$(SWIFT) build --build-tests
	SWIFT=$(SWIFT) TALLY_REQUIRE_TOOLS=1 ./scripts/swift-test.sh
	./Tests/Browser/run.sh .build/debug/tally .build/browser-screenshots
	python3 Tests/README/readme_test.py .build/debug/tally README.md
	$(MAKE) --no-print-directory test-otlp
	$(MAKE) --no-print-directory test-clients

# OTLP trace ingestion end to end (issue 14): the OpenTelemetry Python SDK and its OTLP/HTTP exporter send GenAI spans
# to a real `tally serve`, then the usage and cost answers are checked against what the spans said; then OpenLLMetry's
# opentelemetry-instrumentation-openai traces the openai package calling a fake provider. Needs a build.
.PHONY: test-otlp
test-otlp:
	@start=$$(date +%s); python3 Tests/OTLP/otlp_e2e.py .build/debug/tally \
		&& python3 Tests/OTLP/openllmetry_e2e.py .build/debug/tally; status=$$?; \
	echo "==> test-otlp: $$(( $$(date +%s) - start )) s"; exit $$status

# The Python client (clients/python) against a real `tally serve`, restarted in the middle (issue 14); the Swift
# client's tests (TallyClientTests) run in `swift test`. Needs a build.
.PHONY: test-clients
test-clients:
	@start=$$(date +%s); python3 Tests/Clients/python_client_e2e.py .build/debug/tally; status=$$?; \
	echo "==> test-clients: $$(( $$(date +%s) - start )) s"; exit $$status

# Builds release, loads demo data (the DEMO_DAYS days up to today, UTC) and creates demo keys on first start
# (kept in $(DATA)/demo-keys.txt), prints the keys and curl lines, then serves on $(HOST):$(PORT) until Ctrl-C.
run: release
	@if [ ! -f "$(DATA)/MANIFEST" ]; then \
		echo "==> first start: generating $(DEMO_ROWS) demo records into $(DATA)"; \
		mkdir -p "$(dir $(DATA))"; \
		$(BIN) generate --rows $(DEMO_ROWS) --days $(DEMO_DAYS) --seed 42 --end "$$(date -u +%Y-%m-%dT00:00:00Z)" --format csv --out - \
			| $(BIN) import --data "$(DATA)" --format csv - ; \
	fi
	$(BIN) stats --data "$(DATA)"
	$(BIN) keys demo --data "$(DATA)" --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),8080)
	$(BIN) serve --data "$(DATA)" --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),8080)

# package-benchmark suites (built only here, via TALLY_BENCHMARKS=1).
bench: deps
	TALLY_BENCHMARKS=1 $(SWIFT) package --disable-sandbox benchmark

# Tally next to DuckDB and chDB on the same generated data (see docs/PERFORMANCE.md).
# The data shape: SEED, DAYS, TENANTS, ROWS; BENCH_ROUNDS alternating load rounds (Benchmarks/peers_rounds.py), then one
# run of Benchmarks/peers.sh on the same CSV (the peers' query latency and the check of Tally's answers).
SEED ?= 42
DAYS ?= 30
TENANTS ?= 200
ROWS ?= 10000000
BENCH_ROUNDS ?= 3
BENCH_WORK ?= /tmp/tally-bench
bench-peers: release
	python3 Benchmarks/peers_rounds.py --seed $(SEED) --days $(DAYS) --tenants $(TENANTS) --rows $(ROWS) \
		--rounds $(BENCH_ROUNDS) --work $(BENCH_WORK) --out $(BENCH_WORK)/rounds.md
	WORK=$(BENCH_WORK) CSV=$(BENCH_WORK)/costs-s$(SEED)-d$(DAYS)-t$(TENANTS)-r$(ROWS).csv ./Benchmarks/peers.sh

# HTTP load test on loopback (wrk): readers and writers against a server holding the 10M-row set.
load: release
	./Benchmarks/load.sh

clean:
	rm -rf .build .build-*

# libFuzzer targets in Fuzz/ (not SwiftPM targets): SECONDS per target; corpora and crashes under /tmp/tally-fuzz.
SECONDS ?= 30
.PHONY: fuzz sanitize
fuzz: deps
	SWIFT_BACKTRACE=enable=no SECONDS_PER_TARGET=$(SECONDS) ./Fuzz/run.sh

# Store tests under AddressSanitizer, the concurrency tests under ThreadSanitizer (see docs/RELIABILITY.md).
sanitize: deps
	$(SWIFT) build --build-tests --scratch-path .build-asan --sanitize=address
	SWIFT_BACKTRACE=enable=no $(SWIFT) test --skip-build --scratch-path .build-asan --sanitize=address --filter 'TallyStoreTests|TallyCLITests'
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	SWIFT_BACKTRACE=enable=no $(SWIFT) test --skip-build --scratch-path .build-tsan --sanitize=thread \
		--filter 'StoreTests/concurrentAppendsReadsAndCompactionLoseNothing|BulkLoad|Crash'

# Crash torture: ROUNDS rounds of a writer SIGKILLed again and again, checked after every kill (docs/RELIABILITY.md).
ROUNDS ?= 10
.PHONY: torture soak
torture: release
	TALLY=$(BIN) ROUNDS=$(ROUNDS) ./Torture/torture.sh

# Soak: a loopback server under concurrent writers (retries, duplicate batches) and readers for SECONDS seconds;
# checks nothing was lost or counted twice, samples RSS (docs/RELIABILITY.md).
soak: release
	TALLY=$(BIN) SOAK_SECONDS=$(SECONDS) ./Torture/soak.sh

# Tests against real servers (issue 17), started from Debian's packages by the project's scripts on free loopback
# ports and stopped at the end; each part prints how long it took. Not in `make test`; `.ci/run` runs it after `make test`.
.PHONY: test-cluster
test-cluster: test-cluster-postgres test-cluster-clickhouse test-cluster-nodes

# --- test-cluster: PostgreSQL (the catalog contract and the cross-node races against PostgresCatalog) ---
.PHONY: test-cluster-postgres
test-cluster-postgres: deps
	$(SWIFT) build --build-tests
	@start=$$(date +%s); \
	export TALLY_POSTGRES_DIR="$$(mktemp -d)"; \
	eval "$$(./scripts/postgres.sh start)" || exit 1; \
	trap './scripts/postgres.sh stop' EXIT; \
	$(SWIFT) test --skip-build --filter 'CatalogContract|Postgres'; status=$$?; \
	echo "==> test-cluster-postgres: $$(( $$(date +%s) - start )) s (server start and tests)"; \
	exit $$status
# --- end of the PostgreSQL part ---

# --- test-cluster: ClickHouse (the record-store contract and the ClickHouse store's tests on two shards) ---
.PHONY: test-cluster-clickhouse
# ClickHouse: two shards on loopback (scripts/clickhouse.sh), the record-store contract suite and the ClickHouse
# store's own tests against them, then the shards stopped (also when a test fails); prints how long it took.
CLICKHOUSE_TESTS ?= RecordStoreContractTests|ClickHouseRecordStoreTests|ClickHouseCLITests|FacadeEquivalenceTests
test-cluster-clickhouse: deps
	$(SWIFT) build --build-tests
	@start=$$(date +%s); \
	eval "$$(./scripts/clickhouse.sh start)" || exit 1; \
	$(SWIFT) test --skip-build --filter '$(CLICKHOUSE_TESTS)'; status=$$?; \
	./scripts/clickhouse.sh stop; \
	echo "==> test-cluster-clickhouse: $$(( $$(date +%s) - start )) s (exit $$status)"; \
	exit $$status
# --- end of the ClickHouse part ---

# --- test-cluster: two `tally serve` nodes on ClickHouse and PostgreSQL together (Tests/Cluster/nodes_test.py: reads
# across nodes, cross-node dedup, the tenant-isolation matrix, reservations, exports served by either node, background
# jobs on one node and their takeover after SIGKILL, no acknowledged record lost when a node is killed mid-ingestion) ---
.PHONY: test-cluster-nodes
test-cluster-nodes: deps
	$(SWIFT) build --build-tests
	@start=$$(date +%s); \
	export TALLY_POSTGRES_DIR="$$(mktemp -d)" TALLY_CLICKHOUSE_STATE="$$(mktemp -u)"; \
	eval "$$(./scripts/postgres.sh start)" || exit 1; \
	eval "$$(./scripts/clickhouse.sh start)" || { ./scripts/postgres.sh stop; exit 1; }; \
	python3 Tests/Cluster/nodes_test.py .build/debug/tally; status=$$?; \
	./scripts/clickhouse.sh stop; ./scripts/postgres.sh stop; \
	echo "==> test-cluster-nodes: $$(( $$(date +%s) - start )) s (exit $$status)"; \
	exit $$status
# --- end of the two-node part ---
