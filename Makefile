# The first two targets are the README's two commands: each creates and fills .venv by itself.
VENV   := .venv
PY     := $(VENV)/bin/python
# The stamp names the interpreter: a new python3 (another minor version) makes a new venv.
PYVER  := $(shell python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
STAMP  := $(VENV)/.installed-py$(PYVER)

.PHONY: run test bench gpu-check clean clean-cache upgrade

run: $(STAMP)
	$(VENV)/bin/workbench run configs/arm.yaml

# The tests run in TEST_WORKERS processes (pytest-xdist), a test file to a process: most of
# their time is Numba compiling, one core per compilation, so two processes take about half.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests --ignore=tests/cuda
	NUMBA_ENABLE_CUDASIM=1 $(PY) -m pytest -q tests/cuda

# On a machine with an NVIDIA GPU: the PTX checks, the CUDA tests on the device, then the batch
# benchmarks on cuda against parallel (about 5 minutes on one H100).
gpu-check: $(STAMP)
	$(PY) -c 'from workbench.targets import cuda_status as s; ok, why = s(); print(why); raise SystemExit(0 if ok else 1)'
	$(PY) -m pytest -q tests/test_ptx.py tests/test_optim_ptx.py tests/test_optimize_ptx.py
	WORKBENCH_GPU=1 $(PY) -m pytest -q tests/cuda
	$(PY) benchmarks/bench_gpu.py

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Reinstall when the install is missing or older than pyproject.toml or the pins, from the
# pinned versions in constraints.txt; a venv made by another python3 is made anew.
$(STAMP): pyproject.toml constraints.txt
	@if [ -x $(PY) ] && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYVER)" ]; then \
		echo "python3 is now $(PYVER): making $(VENV) anew"; rm -rf $(VENV); fi
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Re-resolve the newest versions in a scratch venv, write them to constraints.txt, then
# reinstall and run the tests on them (a red run says which release moved the numbers).
upgrade:
	rm -rf .venv-upgrade
	python3 -m venv .venv-upgrade
	.venv-upgrade/bin/python -m pip install -q --upgrade pip
	.venv-upgrade/bin/python -m pip install -q -e '.[test]'
	{ sed -n '1,3p' constraints.txt; .venv-upgrade/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt
	rm -rf .venv-upgrade
	$(MAKE) test

# Numba invalidates a cached kernel only when its own file changes: after editing a function
# that kernels in other files call, drop the compiled kernels.
clean-cache:
	find workbench -name '*.nbi' -delete -o -name '*.nbc' -delete

clean: clean-cache
	rm -rf $(VENV) .venv-upgrade build *.egg-info
	find . -name __pycache__ -prune -exec rm -rf {} +
