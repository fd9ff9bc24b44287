# Two commands on a fresh machine: `make fit` (the default analysis) and `make test`.
# `make fit` creates the virtual environment from requirements.lock (the runtime packages
# only); `make test` adds requirements-test.lock (pytest, hypothesis, ruff, Jupyter, Dask).
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= runs/default
LOCK_HEADER = Exact versions, resolved for Python 3.12 (pip freeze of a fresh install). Regenerate both lock files with: make lock

.PHONY: fit test test-fast lint docs screenshots bench lock clean figures validation backtest notebook-kernel notebooks

$(VENV)/.runtime: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The test lock pins every runtime package at the runtime lock's version, so this adds the
# test tools and changes nothing already installed.
$(VENV)/.test: $(VENV)/.runtime requirements-test.lock
	$(PY) -m pip install -q -r requirements-test.lock
	touch $@

fit: $(VENV)/.runtime
	$(VENV)/bin/estimator fit --out $(OUT)

# The tree is formatted and linted by the ruff pinned in the test lock (settings in pyproject.toml),
# and its imports checked against the layers contract ([tool.importlinter] in pyproject.toml).
lint: $(VENV)/.test
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# pytest runs on every core (pytest-xdist; TEST_WORKERS=0 runs in this process): whole files to a
# worker (loadfile), so a module's fixtures (a fit, a browser) are made once. The workers share
# the suite's compiled-model cache (tests/conftest.py). ESTIMATOR_FULL_TESTS=1 runs the full sets
# the default command samples from (docs/performance.md, "The test suite"). The fifteen slowest tests
# are listed after every run, so the next one to shorten is in view.
TEST_WORKERS ?= auto
test: lint docs $(VENV)/.test
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

test-fast: $(VENV)/.test
	$(PY) -m pytest -m "not slow"

# The documentation site, into docs/_build/html: warnings are errors, and the gallery's notebooks are
# executed with DOCS_DRAWS draws a chain (enough to run every cell; far too few to report).
DOCS_DRAWS ?= 60
docs: $(VENV)/.test
	ESTIMATOR_DRAWS=$(DOCS_DRAWS) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(VENV)/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# The screenshots in docs/_static/ (shown in the README and on the front page), taken by the browser
# test: the HTML report of the default run (fitted first if missing) and the built front page.
screenshots: $(VENV)/.test
	test -f $(OUT)/summary.json || $(VENV)/bin/estimator fit --out $(OUT) --quiet
	ESTIMATOR_REPORT_RUN=$(OUT) ESTIMATOR_SCREENSHOTS=docs/_static $(PY) -m pytest tests/test_browser.py -q -k "real_browser"

# Every benchmark on the documentation's Performance page: each writes benchmarks/results/NAME.json.
bench: $(VENV)/.test
	$(PY) benchmarks/bench_fit.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_whatif.py
	$(PY) benchmarks/bench_months.py
	$(PY) benchmarks/bench_cold.py
	$(PY) benchmarks/bench_compile.py
	$(PY) benchmarks/draft_accuracy.py
	$(PY) benchmarks/bench_tests.py

# Re-resolve both lock files from pyproject.toml in a scratch environment: the runtime
# install first, then the test extra constrained to the runtime pins, so the two agree.
lock:
	rm -rf .lockenv && python3 -m venv .lockenv
	.lockenv/bin/pip install -q --upgrade pip && .lockenv/bin/pip install -q .
	{ echo "# Runtime dependencies (pip install .): what 'make fit' installs. $(LOCK_HEADER)"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v '^estimator'; } > requirements.lock
	.lockenv/bin/pip install -q ".[test]" -c requirements.lock
	{ echo "# Runtime and test dependencies (pip install \".[test]\" -c requirements.lock): what 'make test' installs. $(LOCK_HEADER)"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v '^estimator'; } > requirements-test.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis .ruff_cache .import_linter_cache docs/_build

# Figures of the default run: refits the default model (about half a minute on two
# cores) and redraws figures/ with its report.
RUN ?= build/default-run
figures: $(VENV)/.runtime
	$(VENV)/bin/estimator fit --out $(RUN) --quiet
	$(VENV)/bin/estimator report $(RUN)/result.nc --out figures

# Validation figures of the default model (figures/validation/): SBC with 300
# simulations (about 15 minutes on two cores), the importance-sampling reference
# against the seed era's PyMC run (on the whole ledger importance sampling from the
# prior cannot reach the posterior), and scores of the fitted and test claims.
VAL ?= build/validation
SEED_RUN ?= build/seed-era-pymc
validation: $(VENV)/.runtime
	$(VENV)/bin/estimator fit --out $(RUN) --quiet
	$(VENV)/bin/estimator validate sbc --simulations 300 --workers 2 --out $(VAL)/sbc --quiet
	$(VENV)/bin/estimator fit --known-by 2024-02-26 --as-of 2024-02-23 --sampler pymc --out $(SEED_RUN) --quiet
	$(VENV)/bin/estimator validate reference $(SEED_RUN)/result.nc --out $(VAL)/reference
	$(VENV)/bin/estimator score $(RUN)/result.nc --out $(VAL)/scores
	$(VENV)/bin/estimator score $(RUN)/result.nc --claims tests/data/new_claims.csv --out $(VAL)/scores
	mkdir -p figures/validation
	cp $(VAL)/sbc/sbc_summary.csv $(VAL)/sbc/sbc_ecdf_difference.png $(VAL)/sbc/sbc_rank_histograms.png \
	   $(VAL)/reference/reference_comparison.csv $(VAL)/scores/fitted_scores.png $(VAL)/scores/scores.png figures/validation/

# Jupyter's packages come with the test lock (the notebooks are tested too).
# Register this environment as the Jupyter kernel "Python (estimator)" for the current user,
# so JupyterLab, Notebook or VS Code, wherever installed, run the notebooks with its packages.
notebook-kernel: $(VENV)/.test
	$(PY) -m ipykernel install --user --name estimator --display-name "Python (estimator)"

# The notebooks are kept as percent-format .py files; this writes (or updates) the paired
# .ipynb next to each, which git ignores.
notebooks: $(VENV)/.test
	$(VENV)/bin/jupytext --sync notebooks/*.py

# Backtest and SBC folders resume an interrupted run and refuse one made by other code:
# after changing the code, delete them (or point BT / VAL elsewhere).
# The leave-future-out backtest of the default ledger with both rate dynamics (about half
# a minute each on two cores), and the default (ar1) one's figures and summaries in figures/.
BT ?= build/backtest
backtest: $(VENV)/.runtime
	$(VENV)/bin/estimator backtest --dynamics ar1 --out $(BT)/ar1 --quiet
	$(VENV)/bin/estimator backtest --dynamics random_walk --out $(BT)/random_walk --quiet
	mkdir -p figures/backtest
	cp $(BT)/ar1/backtest_beliefs.png $(BT)/ar1/backtest_pit.png figures/
	cp $(BT)/ar1/summary.json figures/backtest/summary_ar1.json
	cp $(BT)/random_walk/summary.json figures/backtest/summary_random_walk.json
