# Two commands on a fresh machine: `make fit` (the default analysis) and `make test`.
# Both create the virtual environment from requirements.lock on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= runs/default

.PHONY: fit test test-fast bench lock clean figures validation backtest notebook-kernel notebooks

$(VENV)/.installed: pyproject.toml requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $@

fit: $(VENV)/.installed
	$(VENV)/bin/estimator fit --out $(OUT)

test: $(VENV)/.installed
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) -m pytest

test-fast: $(VENV)/.installed
	$(PY) -m pytest -m "not slow"

# Every benchmark quoted in the README's Performance section (about 40 minutes on two busy cores).
bench: $(VENV)/.installed
	$(PY) benchmarks/bench_fit.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_sweep.py

# Re-resolve the lock file from pyproject.toml in a scratch environment.
lock:
	rm -rf .lockenv && python3 -m venv .lockenv
	.lockenv/bin/pip install -q --upgrade pip && .lockenv/bin/pip install -q ".[test]"
	{ echo "# Exact versions of every dependency, resolved for Python 3.12 (pip freeze of a fresh install)."; \
	  echo "# Regenerate with: make lock"; \
	  .lockenv/bin/pip freeze --exclude-editable | grep -v '^estimator'; } > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis

# Figures of the default run: refits the default model (about a minute on two
# cores) and redraws figures/ with its report.
RUN ?= build/default-run
figures: $(VENV)/.installed
	$(VENV)/bin/estimator fit --out $(RUN) --quiet
	$(VENV)/bin/estimator report $(RUN)/result.nc --out figures

# Validation figures of the default model (figures/validation/): SBC with 300
# simulations (about 5 minutes on two cores), the importance-sampling
# reference against the default run, and scores of the fitted and test claims.
VAL ?= build/validation
validation: $(VENV)/.installed
	$(VENV)/bin/estimator fit --out $(RUN) --quiet
	$(VENV)/bin/estimator validate sbc --simulations 300 --workers 2 --out $(VAL)/sbc --quiet
	$(VENV)/bin/estimator validate reference $(RUN)/result.nc --out $(VAL)/reference
	$(VENV)/bin/estimator score $(RUN)/result.nc --out $(VAL)/scores
	$(VENV)/bin/estimator score $(RUN)/result.nc --claims tests/data/new_claims.csv --out $(VAL)/scores
	mkdir -p figures/validation
	cp $(VAL)/sbc/sbc_summary.csv $(VAL)/sbc/sbc_ecdf_difference.png $(VAL)/sbc/sbc_rank_histograms.png \
	   $(VAL)/reference/reference_comparison.csv $(VAL)/scores/fitted_scores.png $(VAL)/scores/scores.png figures/validation/

# Register this environment as the Jupyter kernel "Python (estimator)" for the current user,
# so JupyterLab, Notebook or VS Code, wherever installed, run the notebooks with its packages.
notebook-kernel: $(VENV)/.installed
	$(PY) -m ipykernel install --user --name estimator --display-name "Python (estimator)"

# The notebooks are kept as percent-format .py files; this writes (or updates) the paired
# .ipynb next to each, which git ignores.
notebooks: $(VENV)/.installed
	$(VENV)/bin/jupytext --sync notebooks/*.py

# The leave-future-out backtest of the default ledger with both rate dynamics (about 10
# minutes each on two cores), and the default (ar1) one's figures and summaries in figures/.
BT ?= build/backtest
backtest: $(VENV)/.installed
	$(VENV)/bin/estimator backtest --dynamics ar1 --out $(BT)/ar1 --quiet
	$(VENV)/bin/estimator backtest --dynamics random_walk --out $(BT)/random_walk --quiet
	mkdir -p figures/backtest
	cp $(BT)/ar1/backtest_beliefs.png $(BT)/ar1/backtest_pit.png figures/
	cp $(BT)/ar1/summary.json figures/backtest/summary_ar1.json
	cp $(BT)/random_walk/summary.json figures/backtest/summary_random_walk.json
