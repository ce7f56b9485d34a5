# netctl — `make run` sets up and runs the demo, `make test` sets up and runs the tests.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_FLAGS := -c release --static-swift-stdlib
VENV := .build-venv
TUF_VERSION := 7.0.1
SCAN_ORACLES := 'packaging==25.0' 'cvss==3.6' 'cyclonedx-python-lib[json-validation]==11.12.0' 'jsonschema==4.25.1'
APT_PACKAGES := libmnl-dev libnftnl-dev libseccomp-dev libapparmor-dev libarchive-dev libssl3 libssl-dev libcurl4-openssl-dev libyaml-dev libisal2 libisal-dev \
                nftables iproute2 iputils-ping hyperfine containernetworking-plugins pkg-config time gcc \
                busybox-static umoci skopeo crun runc zstd apparmor etcd-server etcd-client tcpdump iperf3 \
                bind9-dnsutils dnsmasq-base python3 dnsperf aardvark-dns \
                docker-registry apache2-utils python3-venv notary \
                libsqlite3-dev rpm golang-go \
                containerd podman conmon docker.io

.PHONY: deps build release test run bench clean

# Installs only what is missing, so it is cheap to run before every test and demo.
# The engines netctl plugs into (containerd, Podman with conmon, dockerd 20.10) are test
# clients: installed with invoke-rc.d told not to start them (policy-rc.d exit 101, only
# for the install, unless the machine already has one), so no daemon starts and nothing
# touches the host's firewall; each test starts what it needs and stops it.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then guard=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; status=$$?; \
		if [ -n "$$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi; \
		[ $$status = 0 ]; \
	fi
	@# The test oracles, in a venv of the project's (gitignored as .build-*/): python-tuf (with
	@# cryptography, which its signing and verifying need) for trust; packaging (PEP 440
	@# order), cvss (CVSS base scores), cyclonedx-python-lib and jsonschema (SBOM and SARIF
	@# validation) for scanning.
	@$(VENV)/bin/python -c 'import sys, tuf, cryptography, packaging, cvss, cyclonedx.validation.json, jsonschema; sys.exit(tuf.__version__ != "$(TUF_VERSION)")' 2>/dev/null || { \
		echo "installing: tuf==$(TUF_VERSION) $(SCAN_ORACLES) into $(VENV)"; \
		python3 -m venv $(VENV) && $(VENV)/bin/pip install -q --disable-pip-version-check 'tuf==$(TUF_VERSION)' 'securesystemslib[crypto]' $(SCAN_ORACLES); }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build $(RELEASE_FLAGS)

# Tests run the release binary end to end, and the libraries' suites in parallel.
test: deps release
	NETCTL_BINARY=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl $(SWIFT) test --parallel

run: deps release
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./demo/run.sh

bench: deps release
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/network.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/firewall.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/runtime.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/security.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/startup.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/trust.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/scan.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/overlay.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/dns.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/registry.sh
	NETCTL=$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)/netctl ./Benchmarks/engines.sh

clean:
	rm -rf .build

# Fuzzing: Fuzz/ is a package of its own (libFuzzer targets for every parser of outside data,
# see README's "Fuzzing"), built with AddressSanitizer into .build-fuzz, so the main build is
# untouched. `make fuzz` runs each target for FUZZ_SECONDS (new inputs kept in
# .build-fuzz/corpus, crashes in .build-fuzz/artifacts); `make fuzz-check`, which `make test`
# runs too, replays each target's committed corpus in Fuzz/Corpus once.
FUZZ_TARGETS := FuzzNetlink FuzzNFTables FuzzSeccomp FuzzOCI FuzzPortSpec FuzzTarNames FuzzOverlay FuzzDNS FuzzRegistry FuzzTrust FuzzScan FuzzPlugins
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 20000
FUZZ_BIN := .build-fuzz/release
# Sets $$opts for target $$t. libnftnl exits on malformed attributes; FuzzNFTables catches
# that exit by a longjmp, which leaks what the frames it skips held, so leak checking is off
# for it alone.
FUZZ_OPTIONS = opts="-rss_limit_mb=2048"; \
	if [ $$t = FuzzNFTables ]; then opts="$$opts -detect_leaks=0"; fi; \
	if [ -f Fuzz/Dictionaries/$$t.dict ]; then opts="$$opts -dict=Fuzz/Dictionaries/$$t.dict"; fi

.PHONY: fuzz fuzz-build fuzz-check fuzz-clean
test: fuzz-check
clean: fuzz-clean

fuzz-build: deps
	$(SWIFT) build -c release --package-path Fuzz --scratch-path .build-fuzz \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library

fuzz-check: fuzz-build
	@rm -rf .build-fuzz/scratch && mkdir -p .build-fuzz/scratch
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz-check $$t: $$(ls Fuzz/Corpus/$$t | wc -l) inputs"; $(FUZZ_OPTIONS); \
		SWIFT_BACKTRACE=enable=no FUZZ_SCRATCH=.build-fuzz/scratch $(FUZZ_BIN)/$$t $$opts -runs=0 Fuzz/Corpus/$$t \
			> .build-fuzz/$$t-check.log 2>&1 || { tail -40 .build-fuzz/$$t-check.log; exit 1; }; \
	done
	@rm -rf .build-fuzz/scratch

fuzz: fuzz-build
	@rm -rf .build-fuzz/scratch && mkdir -p .build-fuzz/scratch .build-fuzz/artifacts
	@failed=""; for t in $(FUZZ_TARGETS); do \
		mkdir -p .build-fuzz/corpus/$$t; \
		echo "fuzz $$t for $(FUZZ_SECONDS) s"; $(FUZZ_OPTIONS); \
		SWIFT_BACKTRACE=enable=no FUZZ_SCRATCH=.build-fuzz/scratch $(FUZZ_BIN)/$$t $$opts -max_total_time=$(FUZZ_SECONDS) -max_len=$(FUZZ_MAX_LEN) \
			-artifact_prefix=.build-fuzz/artifacts/$$t- .build-fuzz/corpus/$$t Fuzz/Corpus/$$t \
			> .build-fuzz/$$t.log 2>&1 || { tail -40 .build-fuzz/$$t.log; failed="$$failed $$t"; }; \
		grep -E '^(#[0-9]+ +DONE|Done)' .build-fuzz/$$t.log | tail -1; \
		rm -rf .build-fuzz/scratch/*; \
	done; \
	rm -rf .build-fuzz/scratch; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in$$failed (inputs in .build-fuzz/artifacts)"; exit 1; fi

fuzz-clean:
	rm -rf .build-fuzz
