# The two commands of the README: `make book` and `make test`. Each creates the
# virtual environment .venv on first use (or when pyproject.toml changes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The PyTorch pair the book is built and tested with.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: book test clean
.DEFAULT_GOAL := book

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH) -e ".[book,test]"
	touch $@

# Execute every cell (cached by jupyter-cache) and write _build/html; any cell
# error or Sphinx warning fails it. jupyter-cache keys a chapter on its own cells
# only, so a change to the dlbook package, which every chapter imports, drops the
# cache and the build: no page may show numbers from older code.
SOURCE_HASH = $(shell cat src/dlbook/*.py book/_ext/*.py | $(PYTHON) -c "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])")
book: $(VENV)/.installed
	@if [ "$$(cat .jupyter_cache/dlbook-source 2>/dev/null)" != "$(SOURCE_HASH)" ]; then \
		echo "dlbook's source changed since the last build: executing every chapter again"; \
		rm -rf .jupyter_cache _build; \
	fi
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "$(SOURCE_HASH)" > .jupyter_cache/dlbook-source

# Unit tests, the build-failure drills, and every doctest (Sybil).
test: $(VENV)/.installed
	$(BIN)/python -m pytest

clean:
	rm -rf _build .jupyter_cache
