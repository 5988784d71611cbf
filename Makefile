# The README's two commands: `make demo` and `make test`. Both set up everything first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.facesynth-setup
OUT    ?= out/demo

.PHONY: setup sysdeps demo test bench clean

setup: $(STAMP)

# Mesa's surfaceless EGL (llvmpipe) renders on machines without a GPU.
sysdeps:
	@if ldconfig -p | grep -q 'libEGL_mesa.so' && ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing EGL/Mesa system packages"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null; \
	else \
	  echo "facesynth: missing system GL packages; install them with: sudo apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri" >&2; exit 1; \
	fi

# PyOpenGL 3.1.9 goes over pyrender's pin of 3.1.0, which fails on Python 3.12+ at the first
# texture upload; on Mesa 3.1.9 renders the same bytes, and it runs NVIDIA's EGL (docs/render.md).
$(STAMP): pyproject.toml Makefile | sysdeps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps facenet-pytorch==2.6.0
	$(BIN)/pip install -q --no-deps PyOpenGL==3.1.9
	touch $@

# The main job on the embedded local Ray: a small dataset with the default distributions.
# Rerunning resumes (or does nothing when the dataset is complete).
demo: setup
	@$(BIN)/facesynth models list | grep -q '^ict-facekit ' || $(BIN)/facesynth models import ict-facekit
	$(BIN)/facesynth generate --config configs/demo.yaml --out $(OUT)
	$(BIN)/facesynth inspect $(OUT)
	@echo "data: $(OUT)/part-*.parquet (read with cluster.dataset.open_dataset('$(OUT)'), see docs/schema.md)"
	@echo "contact sheet: $(OUT)/_inspect/contact_sheet.png"

test: setup
	$(BIN)/python -m pytest -q tests

bench: setup
	@for b in bench/*.py; do $(BIN)/python $$b; done

clean:
	rm -rf $(VENV) out
