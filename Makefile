# postwire: an SMTP / ESMTP / LMTP client for Go.
# `make test` is what CI runs (see .ci/run); `make demo` sends a message through an
# in-process server.

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 60s   # per fuzz target, for `make fuzz`
SMOKETIME   ?= 3s    # per fuzz target, inside `make test`
RAPIDCHECKS ?= 1000  # for `make test-long`

.PHONY: test fmt-check vet staticcheck unit fuzz-smoke fuzz test-long bench bench-micro demo interop

## test: everything CI checks: formatting, vet, staticcheck, race tests, a short run of every fuzz target
test: fmt-check vet staticcheck unit fuzz-smoke

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '^bench/' || true); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

fuzz-smoke:
	FUZZTIME=$(SMOKETIME) ./scripts/fuzz.sh

## fuzz: every fuzz target for FUZZTIME each
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

## test-long: the rapid properties with many more cases
test-long:
	$(GO) test -count=1 $$($(GO) list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... | \
		awk '/pgregory.net\/rapid/ {print $$1}') -args -rapid.checks=$(RAPIDCHECKS) -rapid.nofailfile

## bench: postwire against net/smtp, go-smtp, textproto's DotWriter and memmove, interleaved in
## one run of the separate module bench/ (see bench/README.md), a few minutes; not part of CI
bench:
	cd bench && $(GO) run ./cmd/bench $(BENCHFLAGS)
	@echo "# pool: 10,000 messages from 64 goroutines (session/pool_bench_test.go); SendBatch windows behind 5 ms each way"
	$(GO) test -run='^$$' -bench='Pool|BatchWindow' -benchtime=1x ./session

## bench-micro: the root module's own go test benchmarks
bench-micro:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=500ms ./codec ./protocol

## demo: send a message through STARTTLS and AUTH to an in-process server
demo:
	$(GO) run ./examples/demo

## interop: real servers (aiosmtpd, Dovecot LMTP, Postfix smtp-sink, Postfix and Exim) on loopback, every message
## checked byte for byte; installs the Debian packages if missing (root), see scripts/interop/README.md
interop:
	GO="$(GO)" ./scripts/interop/run.sh
