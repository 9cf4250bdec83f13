# gan-kit: `make run-all` runs every notebook headlessly; `make test` runs pytest + nbval (smoke profile).
PYTHON_BOOT ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed
PROFILE     ?= $(or $(GAN_KIT_PROFILE),auto)
CELL_TIMEOUT ?= 900
# pytest-xdist workers for make test / test-compat. One test process keeps about one core busy (measured: 0.87
# cores on 2), so two workers use a 2-core machine. tests/conftest.py groups the items for --dist loadgroup: each
# notebook's cells, and each test module, stay in one worker, in order; the long tests go first, one group each.
# TEST_WORKERS=0 runs everything in this one process.
TEST_WORKERS ?= 2
XDIST        := -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: help venv run-all site test test-package test-compat compat-venv lint bench handouts release grade clean

help:
	@echo "make run-all   run every notebook with papermill into outputs/notebooks, and the HTML course site"
	@echo "               into outputs/site (PROFILE=$(PROFILE))"
	@echo "make site      rebuild outputs/site from the notebooks make run-all executed last"
	@echo "make test      pytest for the package + nbval over the notebooks (smoke profile)"
	@echo "make test-compat  the Apple silicon pins (TF 2.17.1, NumPy 1.26, ...) checked here, in $(COMPAT_VENV)"
	@echo "make lint      ruff"
	@echo "make bench     kit training vs a plain tf.function loop (outputs/bench/bench.json)"
	@echo "make handouts  student notebooks with exercises stubbed (outputs/handouts)"
	@echo "make release ASSIGNMENT=02  the student release of one assignment: outputs/release-02/ and .zip"
	@echo "               (PAST_SOLUTIONS=1: the notebooks before 02 go as their solutions)"
	@echo "               (without ASSIGNMENT: the whole course at once, with the package's own answers;"
	@echo "               GRADESCOPE=1: also outputs/autograder-02.zip, the Gradescope autograder)"
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

site: $(STAMP)
	$(PY) scripts/course_site.py

test: $(STAMP)
	GAN_KIT_PROFILE=smoke MPLBACKEND=Agg $(PY) -m pytest tests notebooks --nbval-lax $(XDIST) \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider --durations=25

test-package: $(STAMP)
	$(PY) -m pytest tests -q

# The darwin/arm64 pins of requirements.txt (tensorflow-metal aside: it exists for macOS only) in a second venv,
# checked on this machine: the package tests that exercise the NumPy/SciPy/Keras/TensorFlow API surface and
# every notebook under the smoke profile (nbval, in this venv's kernel). docs/development.md ("The Apple pin set,
# checked on Linux") says why this subset.
COMPAT_VENV  ?= .venv-compat
COMPAT_PY    := $(COMPAT_VENV)/bin/python
COMPAT_STAMP := $(COMPAT_VENV)/.installed
COMPAT_REQS  := $(COMPAT_VENV)/requirements-darwin-arm64.txt
COMPAT_TESTS ?= tests/test_config.py tests/data tests/test_models.py tests/test_losses.py \
	tests/test_training.py tests/test_checkpoints.py tests/metrics tests/test_callbacks.py tests/test_plotting.py \
	tests/test_tracking.py tests/checks tests/test_steps.py
# The FID ladders (tests/metrics/test_classifier.py) check the classifiers' features, not the API surface: make test
# runs them once.
COMPAT_SKIP  ?= not ladders and not fid_orders_gan_epochs

$(COMPAT_STAMP): requirements.txt pyproject.toml
	@test -x $(COMPAT_PY) || $(PYTHON_BOOT) -m venv $(COMPAT_VENV)
	@echo '*' > $(COMPAT_VENV)/.gitignore
	$(COMPAT_PY) -m pip install --quiet --upgrade pip
	$(COMPAT_PY) -c 'from pip._vendor.packaging.requirements import Requirement as R; \
		mac = {"sys_platform": "darwin", "platform_machine": "arm64", "platform_system": "Darwin"}; \
		reqs = [R(line.split("#")[0].strip()) for line in open("requirements.txt") if line.split("#")[0].strip()]; \
		print("\n".join(str(r).split(";")[0].strip() for r in reqs \
			if (r.marker is None or r.marker.evaluate(mac)) and r.name != "tensorflow-metal"))' > $(COMPAT_REQS)
	$(COMPAT_PY) -m pip install --quiet -r $(COMPAT_REQS)
	$(COMPAT_PY) -m pip install --quiet --no-deps -e .
	@touch $@

compat-venv: $(COMPAT_STAMP)

test-compat: $(COMPAT_STAMP)
	@$(COMPAT_PY) -c 'import tensorflow as tf, keras, numpy, scipy; print("test-compat: TensorFlow", \
		tf.__version__, "Keras", keras.__version__, "NumPy", numpy.__version__, "SciPy", scipy.__version__)'
	GAN_KIT_PROFILE=smoke MPLBACKEND=Agg $(COMPAT_PY) -m pytest $(COMPAT_TESTS) notebooks -k "$(COMPAT_SKIP)" --nbval-lax --current-env $(XDIST) \
		--nbval-cell-timeout=$(CELL_TIMEOUT) -p no:cacheprovider -q --durations=15

bench: $(STAMP)
	$(PY) -m gan_kit bench

lint: $(STAMP)
	$(PY) -m ruff check gan_kit tests scripts

clean:
	rm -rf outputs/runs outputs/notebooks outputs/site outputs/cache outputs/lab

handouts: $(STAMP)
	$(PY) -m gan_kit handouts

release: $(STAMP)
	$(PY) -m gan_kit release $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(GRADESCOPE),--gradescope) \
		$(if $(PAST_SOLUTIONS),--past-solutions)

OUT      ?= outputs/grades
JOBS     ?= 1
TIMEOUT  ?= 900
# MEMORY=4G / PROCESSES=256: per-job limits (default: a share of the machine).
# MARKS=file: instead of grading, merge a TA's filled-in marks.csv (OUT/manual/marks.csv) into OUT's grades
grade: $(STAMP)
ifneq ($(MARKS),)
	$(PY) -m gan_kit grade --merge-manual "$(MARKS)" --out "$(OUT)"
else
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [OUT=outputs/grades] [JOBS=1]," \
		"or make grade MARKS=marks.csv [OUT=outputs/grades] to merge a TA's marks"; exit 2; }
	$(PY) -m gan_kit grade "$(SUBMISSIONS)" --out "$(OUT)" --jobs $(JOBS) --timeout $(TIMEOUT) \
		$(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) $(if $(MEMORY),--memory-limit $(MEMORY)) \
		$(if $(PROCESSES),--process-limit $(PROCESSES))
endif
