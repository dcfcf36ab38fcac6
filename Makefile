# selector-guard: build, test and publish a Kubewarden policy.
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
# The module's own profile (Cargo.toml, [profile.policy]): fat LTO, one
# codegen unit, panic=abort, strip. `release` stays at cargo's defaults.
WASM_PROFILE := policy
WASM_OUT := target/$(WASM_TARGET)/$(WASM_PROFILE)/selector_guard.wasm

.PHONY: all toolchain test fmt lint clean run fixtures e2e-tests bench push check-version unit-tests fuzz kwctl-tests cli-bench relations-bench fix-bench

all: policy.wasm

# rust-toolchain.toml names the toolchain and the wasm target; rustup installs both.
toolchain:
	@rustup toolchain install >/dev/null 2>&1 || rustup toolchain install
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)

# Built as a cdylib only: with the rlib (which the native tests need) in the
# same compilation, LTO keeps more code, and the module is ~16 KiB larger and
# ~7% slower (README, Performance).
policy.wasm: toolchain $(shell find src -name '*.rs') Cargo.toml Cargo.lock
	$(CARGO) rustc --target $(WASM_TARGET) --profile $(WASM_PROFILE) --locked --package selector-guard --lib --crate-type cdylib
	cp $(WASM_OUT) policy.wasm

fmt:
	$(CARGO) fmt --all

lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# The wasm end-to-end suite (tests/e2e.rs, xtask/tests/run_cli.rs) loads
# policy.wasm, and annotated-policy.wasm for the context-aware grants
# (`--allow-context-aware` reads them from the embedded metadata), so both
# are built first.
unit-tests: policy.wasm annotated-policy.wasm
	$(CARGO) test --locked --workspace

test: lint check-version policy.wasm unit-tests

# The seed's DaemonSet, a correct DaemonSet and the YAML-1.1 Service through
# `selector-guard run` (kwctl's flags) with no POLICY.wasm: the policy built
# into the CLI, run natively (no wasm runtime, no xtask); --human prints the
# verdict readably. `cargo xtask run ... policy.wasm` prints the same through wasm.
RUN_REQUESTS := test_data/requests/daemonset-from-deployment.json \
	test_data/requests/daemonset-valid.json \
	test_data/requests/service-yaml11.json
SELECTOR_GUARD := $(CARGO) run --locked --quiet --package selector-guard-cli --

run:
	@for request in $(RUN_REQUESTS); do \
		$(SELECTOR_GUARD) run --human --request-path $$request || exit 1; \
		echo; \
	done
	@# A context-aware rule, with the grants of policy-metadata.yml (what
	@# the annotated module carries) and a session recorded from the seed's
	@# namespace: the selector swap in the wrong order.
	$(SELECTOR_GUARD) run --human --allow-context-aware --metadata-path policy-metadata.yml \
		--settings-json '{"serviceSelectorChange":"warn"}' \
		--replay-host-capabilities-interactions test_data/sessions/service-selector-swap--unlabeled.yml \
		--request-path test_data/requests/service-selector-swap.json
	@# `selector-guard check` on a few sample manifests, as in CI: findings
	@# as FILE:LINE:COL. Exit status 1 (errors found) is the expected one.
	@echo
	$(SELECTOR_GUARD) check \
		test_data/manifests/service-yaml11.yaml test_data/manifests/daemonset-from-deployment.yaml \
		test_data/manifests/replicationcontroller-echo.yaml \
		test_data/manifests/deployment-valid.yaml || test $$? -eq 1

# Regenerate test_data/requests/ from test_data/manifests/, then record
# test_data/sessions/NAME.yml from NAME.cluster.yaml with policy.wasm
# (tests/fixtures.rs fails when a committed request or session is stale).
fixtures: policy.wasm
	$(CARGO) xtask fixtures

# Tests that need kwctl, which cannot be installed here: ignored by
# `make test` (reported as ignored, with the reason), run here on request.
# KWCTL=/path/to/kwctl if it is not on PATH.
kwctl-tests: policy.wasm annotated-policy.wasm
	$(CARGO) test --locked --package xtask --test run_cli -- --ignored agrees_with_kwctl_when_installed

# `selector-guard check` throughput over 1,000 generated manifests, through
# the module and natively, and the module's compile time with and without the
# compiled-module cache.
cli-bench: policy.wasm
	$(CARGO) run --locked --profile bench --package selector-guard-cli --features wasm --example throughput -- policy.wasm

# `selector-guard check` over one namespace of 1,000 and 10,000 generated
# documents with every relation rule on (docs/performance.md).
relations-bench:
	$(CARGO) run --locked --release --package selector-guard-cli --example relations

# `selector-guard fix` on 60,000 non-string labels in one object and on a
# 10 MB file of 10,000 documents, against reading the same text.
fix-bench:
	$(CARGO) run --locked --release --package selector-guard-cli --example fix_bench

# Only the wasm end-to-end tests.
e2e-tests: policy.wasm annotated-policy.wasm
	$(CARGO) test --locked --package selector-guard --test e2e
	$(CARGO) test --locked --package xtask --test run_cli

# The benchmark floor: a guest that parses the payload into a serde_json::Value
# and accepts (floor/), built with the same profile as the policy.
FLOOR_OUT := target/$(WASM_TARGET)/$(WASM_PROFILE)/floor.wasm

floor.wasm: toolchain $(shell find floor/src -name '*.rs') floor/Cargo.toml Cargo.toml Cargo.lock
	$(CARGO) build --target $(WASM_TARGET) --profile $(WASM_PROFILE) --locked --package selector-guard-floor
	cp $(FLOOR_OUT) floor.wasm

# Through wasm: policy.wasm and floor.wasm on the same requests, alternating
# call by call; prints each request's policy/floor ratio against its budget,
# then µs per KiB and peak memory for the generated scaling requests.
# `cargo bench --bench validate` is the native counterpart (criterion).
BENCH_ARGS ?= --num-samples 300 --warm-up-time 1
# The host runs optimized (the `bench` profile, shared with `cargo bench`): a
# debug host adds a per-call constant to both modules and pulls every ratio toward 1.
bench: policy.wasm floor.wasm
	$(CARGO) run --locked --quiet --profile bench --package xtask -- bench --suite --baseline floor.wasm $(BENCH_ARGS) policy.wasm

# Publishing (kwctl works too: kwctl annotate / kwctl push).
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
TAG ?= v$(VERSION)

# policy.wasm with policy-metadata.yml (and README.md as usage) embedded, like
# `kwctl annotate`, by the CLI's `annotate` (no xtask, no wasm runtime;
# `cargo xtask annotate` takes the same flags).
annotated-policy.wasm: policy.wasm policy-metadata.yml $(wildcard README.md)
	$(SELECTOR_GUARD) annotate -m policy-metadata.yml $(if $(wildcard README.md),-u README.md) -o annotated-policy.wasm policy.wasm

# make push REGISTRY=ghcr.io/selector-guard/policies [TAG=v$(VERSION)] [SOURCES=sources.yaml]
# pushes registry://$(REGISTRY)/selector-guard:$(TAG) and prints its immutable reference.
push: annotated-policy.wasm
	@test -n "$(REGISTRY)" || { echo "usage: make push REGISTRY=HOST[:PORT]/PATH [TAG=$(TAG)] [SOURCES=sources.yaml]" >&2; exit 2; }
	$(CARGO) xtask push $(if $(SOURCES),--sources-path $(SOURCES)) annotated-policy.wasm registry://$(REGISTRY)/selector-guard:$(TAG)

# Cargo.toml, policy-metadata.yml and artifacthub-pkg.yml must agree on the version.
check-version:
	$(CARGO) xtask artifacthub --check-version

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm floor.wasm

# Coverage-guided fuzzing of `validate`, `validate_settings` and the YAML
# 1.1 reader (`yaml11`, what `check` and `fix` read pull requests with) with cargo-fuzz
# (libFuzzer; needs the nightly toolchain). Not part of `make test`: the
# native proptest fuzzing (tests/hostile.rs) runs there. FUZZ_TIME seconds
# per target; the corpus and any crash land in fuzz/corpus, fuzz/artifacts.
FUZZ_TIME ?= 180
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	fuzz/seed-corpus.sh
	for target in validate validate_settings yaml11; do \
		dict=$(CURDIR)/fuzz/$$target.dict; \
		(cd fuzz && cargo +nightly fuzz run -O $$target corpus/$$target -- \
			-max_total_time=$(FUZZ_TIME) $$(test -f $$dict && echo -dict=$$dict) -print_final_stats=1) || exit 1; \
	done
