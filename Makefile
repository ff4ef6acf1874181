# Partli's front door. `make` (or `make help`) lists the targets.
#
# Generated files are committed: views/**/*_templ.go (templ), static/app.css
# (Tailwind, from static/css/input.css) and static/htmx.min.js (vendored from
# npm). `make generate` rebuilds them; `make check-generated` fails when they
# are stale, without touching the work tree.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

# npm writes this file on every install, so it marks "node_modules is present
# and matches the lockfile".
NODE_DEPS := node_modules/.package-lock.json
TAILWIND := node_modules/.bin/tailwindcss
HTMX_SRC := node_modules/htmx.org/dist/htmx.min.js
# The lockfile pins caniuse-lite; its "outdated" nag is noise here.
export BROWSERSLIST_IGNORE_OLD_DATA := 1

.PHONY: help run build generate check-generated test fmt bench bench-scale fault

help: ## list the targets
	@echo "Usage: make <target>"
	awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-16s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

run: ## run Partli locally: `partli dev`, with a private PostgreSQL under ./.data/
	go build -o bin/partli ./cmd/partli
	# exec: Ctrl-C reaches partli alone, which shuts down cleanly and exits 0.
	exec bin/partli dev

build: ## build the binary into bin/partli
	go build -o bin/partli ./cmd/partli

$(NODE_DEPS): package.json package-lock.json
	npm ci
	touch $@

generate: $(NODE_DEPS) ## regenerate templ code, static/app.css and static/htmx.min.js
	go tool templ generate -path views -log-level warn
	$(TAILWIND) -i static/css/input.css -o static/app.css --minify
	cp $(HTMX_SRC) static/htmx.min.js

check-generated: $(NODE_DEPS) ## fail if a committed generated file differs from what `make generate` would write
	@tmp=$$(mktemp -d)
	trap 'rm -rf "$$tmp"' EXIT
	stale=0
	# templ: regenerate a copy of views/ and compare the *_templ.go files both ways,
	# so a missing, changed or orphaned generated file is reported.
	cp -R views "$$tmp/views"
	if ! go tool templ generate -path "$$tmp/views" -log-level warn >"$$tmp/templ.log" 2>&1; then
		cat "$$tmp/templ.log"; echo "check-generated: templ generate failed"; exit 1
	fi
	for f in $$( { find views -name '*_templ.go'; (cd "$$tmp" && find views -name '*_templ.go'); } | sort -u); do
		if [[ ! -f "$$f" ]]; then
			echo "stale: $$f is missing (run make generate)"; stale=1
		elif [[ ! -f "$$tmp/$$f" ]]; then
			echo "stale: $$f has no .templ source (run make generate)"; stale=1
		elif ! cmp -s "$$f" "$$tmp/$$f"; then
			echo "stale: $$f differs from templ generate (run make generate)"; stale=1
		fi
	done
	# Tailwind: build twice; the output must be deterministic and match the committed file.
	$(TAILWIND) -i static/css/input.css -o "$$tmp/app1.css" --minify 2>"$$tmp/tw.log" || { cat "$$tmp/tw.log"; exit 1; }
	$(TAILWIND) -i static/css/input.css -o "$$tmp/app2.css" --minify 2>"$$tmp/tw.log" || { cat "$$tmp/tw.log"; exit 1; }
	if ! cmp -s "$$tmp/app1.css" "$$tmp/app2.css"; then
		echo "check-generated: the Tailwind build is not deterministic"; stale=1
	elif ! cmp -s "$$tmp/app1.css" static/app.css; then
		echo "stale: static/app.css differs from the Tailwind build (run make generate)"; stale=1
	fi
	# htmx: the vendored copy must be the locked npm version.
	if ! cmp -s $(HTMX_SRC) static/htmx.min.js; then
		echo "stale: static/htmx.min.js differs from $(HTMX_SRC) (run make generate)"; stale=1
	fi
	if [[ $$stale -ne 0 ]]; then exit 1; fi
	echo "generated files are up to date"

test: $(NODE_DEPS) check-generated ## check generated files, go vet, then every Go test, fault tests included (needs PostgreSQL binaries)
	go vet ./...
	go test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz-short

# Fuzz targets as package:FuzzName. `go test -fuzz` takes one target per
# package run, so they run one after another; seed corpora are committed in
# each package's testdata/fuzz/<FuzzName>/.
FUZZ_TARGETS := ./internal/web:FuzzReadSale ./internal/web:FuzzScanBody ./internal/web:FuzzLocalPath ./internal/money:FuzzPercentOf ./internal/money:FuzzProRata \
	./internal/money:FuzzParseDecimal ./internal/money:FuzzDecimal ./internal/money:FuzzParsePercent \
	./internal/tracking:FuzzAmount ./internal/tracking:FuzzDecideSale ./internal/tracking:FuzzAddMonths
FUZZTIME ?= 60s

.PHONY: fuzz fuzz-short
fuzz: ## fuzz request validation and the money rules, each target for FUZZTIME (default 60s)
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT
	for target in $(FUZZ_TARGETS); do
		pkg=$${target%%:*}; name=$${target##*:}
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"
		if go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg" 2>&1 | tee "$$log"; then continue; fi
		# Go 1.26's fuzz coordinator can fail a run with a bare "context deadline
		# exceeded" when -fuzztime ends while a worker is busy (go.dev/issue/75804,
		# fixed in Go 1.27): no input failed and none was written. Anything else fails.
		if grep -qx '    context deadline exceeded' "$$log" && ! grep -q 'Failing input written' "$$log"; then
			echo "fuzz: $$name: ignoring the coordinator's deadline race (go.dev/issue/75804); no input failed"
			continue
		fi
		exit 1
	done

fuzz-short: ## fuzz each target for 5s (part of make test)
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

fault: ## just the fault tests (also in make test): kill -9 under load, PostgreSQL restart, two replicas (about 30 s)
	go test -count=1 -timeout 10m -v ./internal/faulttest

fmt: ## fail if any Go file is not gofmt-formatted
	@files=$$(find . -name '*.go' -not -path './node_modules/*' -not -path './.data/*' -not -path './.git/*' -print0 | xargs -0 -r gofmt -l)
	if [[ -n "$$files" ]]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$files"; exit 1; fi

bench: ## benchmark track/sale vs pgbench, redirects, echo ceiling (~5 min; figures in artifacts/bench/bench.json)
	go run ./cmd/partli-bench -duration 20s -concurrency 16 -existing 10000 -out artifacts/bench/bench.json

bench-scale: ## track/sale at 10k, 1M and 10M existing sales (about 40 minutes: seeding 10M sales takes ~25 on 2 cores; ~25 GB of disk)
	go run ./cmd/partli-bench -duration 20s -concurrency 16 -existing 10000,1000000,10000000 -seed-workers 6 -echo=false -redirects=false -out artifacts/bench/bench-scale.json
