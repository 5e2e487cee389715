# The two commands of the README: `make book` and `make test`. Each creates the
# virtual environment .venv on first use (or when pyproject.toml or constraints.txt,
# the pinned book toolchain, changes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The PyTorch pair the book is built and tested with.
TORCH := torch==2.14.1 torchvision==0.29.1

.PHONY: book pdf test clean
.DEFAULT_GOAL := book

$(VENV)/.installed: pyproject.toml constraints.txt book/_kernel/ipython_kernel_config.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt $(TORCH) -e ".[book,test]"
	mkdir -p $(VENV)/etc/ipython && cp book/_kernel/ipython_kernel_config.py $(VENV)/etc/ipython/
	touch $@

# Execute every cell (cached by jupyter-cache) and write _build/html; any cell
# error or Sphinx warning fails it. jupyter-cache keys a chapter on its own cells
# only, so `python -m dlbook build` first drops the cache and the build when anything
# else the chapters depend on changed: the data files, torch's version, the device
# kind, a DLBOOK_* variable, or the dlbook and book/_ext sources
# (dlbook.build.build_inputs; `python -m dlbook build-inputs` prints them).
book: $(VENV)/.installed
	$(BIN)/python -m dlbook build

# The PDF edition, _build/latex/dlbook.pdf (copied to _build/html/dlbook.pdf, which the
# pages' download menus then offer), rendered by XeLaTeX from the chapters `make book`
# executed; it executes nothing. Needs TeX Live: Debian's texlive-xetex,
# texlive-latex-extra, texlive-fonts-recommended, texlive-plain-generic, latexmk and
# fonts-freefont-otf.
pdf: $(VENV)/.installed
	$(BIN)/python -m dlbook pdf

# Unit tests, the build-failure drills, and every doctest (Sybil), on as many workers as
# there are cores (pytest-xdist), a whole test file per worker; the files that build the
# book or run every chapter share one worker (conftest.py's BUILD_TEST_FILES), so at most
# two kernels of theirs run at once.
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n auto

clean:
	rm -rf _build .jupyter_cache
