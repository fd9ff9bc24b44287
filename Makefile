# Figures of the default run: `make figures` refits the default model (about a
# minute on two cores) and redraws figures/ with its report. Use another
# estimator executable with `make figures ESTIMATOR=.venv/bin/estimator`.
ESTIMATOR ?= estimator
RUN ?= build/default-run

.PHONY: figures
figures:
	$(ESTIMATOR) fit --out $(RUN) --quiet
	$(ESTIMATOR) report $(RUN)/result.nc --out figures
