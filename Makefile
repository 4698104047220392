# Every target runs from a fresh clone with Go 1.26 on PATH; `make test` is
# what CI runs (see .ci/run, which first installs the system packages).

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
PKGS        := ./...

.PHONY: test fmt-check vet staticcheck unit fuzz bench demo

## test: everything CI checks: formatting, vet, staticcheck, race tests, short fuzzing
test: fmt-check vet staticcheck unit fuzz

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@echo "gofmt: clean"

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -count=1 $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## bench: benchmarks, recorded in BENCHMARKS.md
bench:
	GO=$(GO) scripts/bench.sh

## demo: the walk-through on the in-memory platform
demo:
	$(GO) run ./examples/cbtctl mem demo
