# git-change-operator. `make demo` runs the product on the embedded local control plane;
# `make test` runs every test. Both install what a fresh machine lacks.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps testenv up down cluster-up cluster-down crds docs fmt lint unit

demo:
	hack/demo.sh

# Go builds run beside cargo's (hack/test.sh says why).
test:
	CARGO=$(CARGO) hack/test.sh

deps:
	hack/deps.sh

testenv:
	hack/testenv.sh

up: deps
	$(CARGO) build --quiet -p gco-tests --bin gco-testenv
	mkdir -p .cache/testenv
	nohup target/debug/gco-testenv .cache/testenv > .cache/testenv/log 2>&1 &
	for _ in $$(seq 1 240); do [ -f .cache/testenv/pid ] && break; sleep 0.5; done
	@[ -f .cache/testenv/pid ] || { cat .cache/testenv/log; exit 1; }
	@cat .cache/testenv/log

down:
	@if [ -f .cache/testenv/pid ]; then kill "$$(cat .cache/testenv/pid)" && echo "control plane stopped"; \
	else echo "no control plane running"; fi

# A real single-node cluster (hack/node.sh) with the operator's images imported, for trying the
# chart by hand; it prints how to install it.
cluster-up: deps
	hack/cluster.sh up

cluster-down:
	hack/cluster.sh down

crds:
	$(CARGO) run --quiet -p gco-api --bin crdgen
	$(CARGO) run --quiet -p gco-api --bin apidocs -- docs/api.md

# Generated documentation besides the API reference: the condition table of docs/controller.md.
docs: crds
	GCO_UPDATE_DOCS=1 $(CARGO) test --quiet -p gco-controller --lib -- the_condition_table_in_the_docs_is_current

fmt:
	$(CARGO) fmt --all
