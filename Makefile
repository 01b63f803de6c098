# The front door. `make demo` and `make test` are the README's two commands.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 10s
# Minimizing a large new input can take the whole brief run; keep it short.


# Every fuzz target, as package:Target.
FUZZ_TARGETS := ./questionnaire:FuzzParse ./questionnaire:FuzzDecodeForm ./questionnaire:FuzzDecodeJSON ./questionnaire:FuzzSanitizeMarkup ./questionnaire/fhir:FuzzImport ./web:FuzzCodeForm ./web:FuzzPagePost ./web:FuzzOrderCreate ./web:FuzzAck ./web:FuzzEscapingAsTemplates

.PHONY: all build demo test unit fuzz lint bench clean

all: build

## build: the eprom binary in bin/, version stamped
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/eprom ./cmd/eprom

## demo: the whole service on a temporary data folder, with printed demo codes
demo:
	$(GO) run ./cmd/eprom demo

## test: lint, the whole suite with -race, then each fuzz target briefly
test: lint unit fuzz

unit:
	$(GO) test -race -shuffle=on -count=1 ./...

# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" as -fuzztime ends, having found nothing (go.dev/issue/75804, fixed
# in Go 1.27). Such a run is tried again, up to three times; a real finding
# always writes "Failing input written to" and fails at once.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		for try in 1 2 3; do \
			echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
			out=$$($(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=2s $$pkg 2>&1) && { echo "$$out"; break; }; \
			echo "$$out"; \
			if echo "$$out" | grep -q 'Failing input written to' || ! echo "$$out" | grep -q 'context deadline exceeded' || [ $$try = 3 ]; then exit 1; fi; \
			echo "fuzz $$name: the coordinator's deadline race (go.dev/issue/75804), nothing found; again"; \
		done; \
	done

## lint: go vet and gofmt
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: the load run against the real server (journeys, baselines, page
## weight, memory; DESIGN.md §10), then the Go benchmarks of the hot paths
bench: build
	$(GO) build -trimpath -o bin/eprom-load ./cmd/eprom-load
	bin/eprom-load -server bin/eprom -c 32 -d 15s -baseline 4s -drafts 10000
	$(GO) test -run='^$$' -bench=. -benchmem ./schemas ./store/... ./web

clean:
	rm -rf bin
