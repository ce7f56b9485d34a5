# netctl — `make run` sets up and runs the demo, `make test` sets up and runs the tests.
SHELL := /bin/bash
SWIFT ?= swift
RELEASE_FLAGS := -c release --static-swift-stdlib
APT_PACKAGES := libmnl-dev libnftnl-dev libseccomp-dev libapparmor-dev libarchive-dev libssl3 \
                nftables iproute2 iputils-ping hyperfine containernetworking-plugins pkg-config time gcc \
                busybox-static umoci skopeo crun runc zstd apparmor

.PHONY: deps build release test run bench clean

# Installs only what is missing, so it is cheap to run before every test and demo.
deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

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

clean:
	rm -rf .build
