# gan-kit: `make run-all` runs every notebook headlessly; `make test` runs pytest + nbval (smoke profile).
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PROFILE     ?= $(or $(GAN_KIT_PROFILE),auto)
CELL_TIMEOUT ?= 900

.PHONY: help venv run-all test test-package lint bench handouts release grade clean

help:
	@echo "make run-all   run every notebook with papermill into outputs/notebooks (PROFILE=$(PROFILE))"
	@echo "make test      pytest for the package + nbval over the notebooks (smoke profile)"
	@echo "make lint      ruff"
	@echo "make bench     kit training vs a plain tf.function loop (outputs/bench/bench.json)"
	@echo "make handouts  student notebooks with exercises stubbed (outputs/handouts)"
	@echo "make release   the student release: outputs/release/ and outputs/release.zip"
	@echo "make grade SUBMISSIONS=folder [OUT=outputs/grades] [JOBS=1] [TIMEOUT=900] [NOTEBOOKS=01,02]"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gan-kit)" >/dev/null
	@touch $@

venv: $(STAMP)

run-all: $(STAMP)
	MPLBACKEND=Agg $(PY) scripts/run_notebooks.py --profile $(PROFILE)

test: $(STAMP)
	GAN_KIT_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest tests notebooks --nbval-lax \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider

test-package: $(STAMP)
	$(PY) -m pytest tests -q

bench: $(STAMP)
	$(PY) -m gan_kit bench

lint: $(STAMP)
	$(PY) -m ruff check gan_kit tests scripts

clean:
	rm -rf outputs/runs outputs/notebooks outputs/cache outputs/lab

handouts: $(STAMP)
	$(PY) -m gan_kit handouts

release: $(STAMP)
	$(PY) -m gan_kit release

OUT      ?= outputs/grades
JOBS     ?= 1
TIMEOUT  ?= 900
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [OUT=outputs/grades] [JOBS=1]"; exit 2; }
	$(PY) -m gan_kit grade "$(SUBMISSIONS)" --out "$(OUT)" --jobs $(JOBS) --timeout $(TIMEOUT) \
		$(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS))
