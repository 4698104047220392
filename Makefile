# Every target runs from a fresh clone with Go 1.26 on PATH; `make test` is
# what CI runs (see .ci/run, which first installs the system packages).

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
PKGS        := ./...

.PHONY: test fmt-check vet builds staticcheck unit fuzz bench bench-qemu bench-nbd demo

## test: everything CI checks: formatting, vet, staticcheck, race tests, short fuzzing
test: fmt-check vet builds staticcheck unit fuzz

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@echo "gofmt: clean"

vet:
	$(GO) vet $(PKGS)

## builds: the other build modes: qemu/libvirt (the only cgo package) without
## libvirt headers (-tags libvirt_dlopen), and everything without cgo
builds:
	$(GO) build -tags libvirt_dlopen $(PKGS)
	$(GO) vet -tags libvirt_dlopen ./qemu/libvirt/...
	CGO_ENABLED=0 $(GO) build $(PKGS)
	@echo "builds: default, libvirt_dlopen and CGO_ENABLED=0 all build"

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## bench: benchmarks, recorded in BENCHMARKS.md: the extent package, then qemu
## (run one after the other, never in parallel, so they do not disturb each other)
bench:
	GO=$(GO) scripts/bench.sh
	GO=$(GO) scripts/bench-qemu.sh
	GO=$(GO) scripts/bench-nbd.sh

## bench-qemu: the qemu package on a prepared 2 TiB image (built once in
## CBT_BENCH_DIR, default /var/tmp/cbt-bench, ~1.2 GiB) against its floor and nbdinfo
bench-qemu:
	GO=$(GO) scripts/bench-qemu.sh

## bench-nbd: internal/nbd against nbdinfo on a 200,000-dirty-range bitmap
bench-nbd:
	GO=$(GO) scripts/bench-nbd.sh

## demo: the walk-through on the in-memory platform
demo:
	$(GO) run ./examples/cbtctl mem demo
