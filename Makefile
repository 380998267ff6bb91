# The two commands: `make run` (set up, build in release mode, start the server) and
# `make test` (set up, run the whole test suite). Both are idempotent.
.PHONY: run test build setup

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build:
	@swift build

setup:
	@scripts/setup.sh --test
