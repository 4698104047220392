# Every target runs from a fresh clone with Go 1.26 on PATH; `make test` is
# what CI runs (see .ci/run, which first installs the system packages).

SHELL       := /bin/bash
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
PKGS        := ./...

.PHONY: test deps fmt-check vet builds staticcheck unit fuzz bench bench-qemu bench-nbd bench-copy demo

## test: everything CI checks: the system packages and libvirtd the tests
## need (as root), formatting, vet, staticcheck, race tests, short fuzzing
test: deps fmt-check vet builds staticcheck unit fuzz

## deps: as root, installs the Debian packages the tests need (.ci/install.sh,
## only those missing) and starts a private libvirtd (.ci/libvirtd.sh, unless
## one answers); as another user, says what is missing and how to add it
deps:
	@if [ "$$(id -u)" = 0 ]; then bash .ci/install.sh && bash .ci/libvirtd.sh; \
	else echo "deps: not root, nothing installed: tests whose tools are missing are skipped (run 'sudo bash .ci/install.sh' and 'sudo bash .ci/libvirtd.sh' first to run them all)"; fi

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@echo "gofmt: clean"

vet:
	$(GO) vet $(PKGS)

## builds: the other build modes: qemu/libvirt (the only cgo package) without
## libvirt headers (-tags libvirt_dlopen); every other package without cgo;
## and qemu/libvirt without cgo failing with the message that says how to build it
builds:
	$(GO) build -tags libvirt_dlopen $(PKGS)
	$(GO) vet -tags libvirt_dlopen ./qemu/libvirt/...
	CGO_ENABLED=0 $(GO) build $$(CGO_ENABLED=0 $(GO) list $(PKGS) | grep -v '/qemu/libvirt$$')
	@if out=$$(CGO_ENABLED=0 $(GO) build ./qemu/libvirt/ 2>&1); then \
		echo "builds: qemu/libvirt built with CGO_ENABLED=0; it must fail saying how to build it"; exit 1; \
	elif ! echo "$$out" | grep -q 'qemu_libvirt_needs_cgo__build_with_CGO_ENABLED_1_and_libvirt_dev_and_pkg_config__or_with_tags_libvirt_dlopen'; then \
		echo "builds: qemu/libvirt with CGO_ENABLED=0 failed, but not with the message that says how to build it:"; echo "$$out"; exit 1; \
	fi
	@echo "builds: default, libvirt_dlopen and CGO_ENABLED=0 build; qemu/libvirt without cgo fails saying how to build it"

staticcheck:
	$(GO) run $(STATICCHECK) $(PKGS)

## unit: every test, with -race; scripts/testsummary prints failures in full,
## every skipped test with its reason, and "N passed, N failed, N skipped"
unit:
	set -o pipefail; $(GO) test -race -count=1 -timeout 45m -json $(PKGS) | $(GO) run ./scripts/testsummary

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

## bench: benchmarks, recorded in BENCHMARKS.md: the extent package, then qemu
## (run one after the other, never in parallel, so they do not disturb each other)
bench:
	GO=$(GO) scripts/bench.sh
	GO=$(GO) scripts/bench-qemu.sh
	GO=$(GO) scripts/bench-nbd.sh
	GO=$(GO) scripts/bench-copy.sh

## bench-qemu: the qemu package on a prepared 2 TiB image (built once in
## CBT_BENCH_DIR, default /var/tmp/cbt-bench, ~1.2 GiB) against its floor and nbdinfo
bench-qemu:
	GO=$(GO) scripts/bench-qemu.sh

## bench-nbd: internal/nbd against nbdinfo on a 200,000-dirty-range bitmap
bench-nbd:
	GO=$(GO) scripts/bench-nbd.sh

## bench-copy: backups (backup.Full) against qemu-img convert on 4 GiB
## sources built once in /var/tmp/cbt-bench-copy (~6 GiB)
bench-copy:
	GO=$(GO) scripts/bench-copy.sh

## demo: the walk-through on the in-memory platform
demo:
	$(GO) run ./examples/cbtctl mem demo
