# Quick start: `make demo` (install everything, run the demo) and `make test` (the whole suite).
# Both create or reuse a local virtualenv in .venv and install Graphviz's `dot` where missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test venv system-deps bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

venv: $(PY)

system-deps:
	@bash scripts/ensure-graphviz.sh

demo: $(PY) system-deps
	$(PY) -m pip install --quiet -e '.[plot]'
	$(PY) examples/demo.py

test: $(PY) system-deps
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pytest -n 2 -q
	@echo "== again, every plan that can split its batch across processes doing so (FLOWGRAPH_BATCH_SPLIT=on)"
	FLOWGRAPH_BATCH_SPLIT=on $(PY) -m pytest -n 2 -q -p no:cacheprovider

bench: $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
