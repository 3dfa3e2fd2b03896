# peftlab — the two commands a new user runs are `make paper-figures` and `make test`.
SWIFT        ?= swift
APT_PACKAGES := libopenblas-dev libhdf5-dev libcairo2-dev zlib1g-dev libjpeg62-turbo-dev pkg-config fonts-dejavu-core poppler-utils slurmctld slurmd slurm-client munge
PEFTLAB      := .build/release/peftlab
THREADS      ?= $(shell nproc)
# Kernels use AVX2 + FMA when this CPU has both (PEFTLAB_CPU=haswell; see
# Package.swift); set PEFTLAB_CPU= (empty) for a portable baseline build.
PEFTLAB_CPU  ?= $(shell grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null && echo haswell)
export PEFTLAB_CPU
# OpenBLAS 0.3.21 does not recognise some virtualised Xeons ("Intel(R) Xeon(R) Processor") and falls
# back to its Prescott (SSE3) kernels: sgemm-bound training runs 2.6x slower (BENCHMARKS.md). Where the
# environment names no core type, ask for the best kernels this CPU's flags allow: SkylakeX where it has
# AVX-512 (F, BW, VL, DQ, CD; ViT-B/16 inference 1.7x faster than Haswell's), else Haswell where it has
# AVX2 + FMA. An OPENBLAS_CORETYPE already set (e.g. where newer kernels are known to misbehave) is kept.
OPENBLAS_CORETYPE ?= $(shell f=/proc/cpuinfo; \
  if grep -qw avx512f $$f && grep -qw avx512bw $$f && grep -qw avx512vl $$f && grep -qw avx512dq $$f \
     && grep -qw avx512cd $$f; then echo SkylakeX; \
  elif grep -qw avx2 $$f && grep -qw fma $$f; then echo Haswell; fi 2>/dev/null)
export OPENBLAS_CORETYPE

.PHONY: all deps build test paper-figures byo-example bench fixtures clean slurm format lint

all: build

# Installs the system libraries SwiftPM links against, if any is missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build -c release

# A single-node Slurm on loopback (munge, slurmctld, slurmd; no accounting daemon).
slurm: deps
	@if [ "$$(id -u)" = 0 ]; then scripts/slurm-local.sh start; else sudo scripts/slurm-local.sh start; fi \
	  || { echo "make: could not start Slurm (see /var/log/slurm/); the Slurm executor tests will fail"; true; }

# All tests, optimised (numeric tests are ~100x slower unoptimised). The Slurm
# executor's tests need a single-node Slurm on loopback (started here; root or sudo).
test: deps slurm
	$(SWIFT) build -c release --build-tests
	$(SWIFT) test -c release --skip-build --disable-swift-testing

# The main job: the SH-PEFT study, the method sweep, every figure and the report
# (Pipelines/figures.yaml; quick: roughly 1-1.5 h on 2 cores from a cold cache, README's profile table).
# Every figure and table of both papers, then Reports/out (PROFILE=smoke|quick|full|paper|paper-smoke).
PROFILE      ?= quick
# paper-smoke: the `paper` profile in shape on stand-ins a script writes (data-smoke/, a narrow CLIP-layout file).
paper-figures: build
	@if [ "$(PROFILE)" = paper-smoke ]; then python3 scripts/make_paper_smoke.py --peftlab $(PEFTLAB); fi
	$(PEFTLAB) make-paper-figures --profile $(PROFILE) --jobs 2 --threads $(THREADS)

# Bring your own checkpoints, worked example: two embedded tasks as PNG folders, W_ori/W_ft safetensors from
# scripts/byo_checkpoints.py (SGD fine-tunes where torch + timm import, else random same-format files), then
# the sparsity/hybridity/importance studies on them (Pipelines/byo-example.yaml). Delete checkpoints/byo to remake.
byo-example: build
	@[ -d data/byo/byo-busi ] || $(PEFTLAB) dataset export busi-synth --to data/byo/byo-busi --limit 200
	@[ -d data/byo/byo-chaoyang ] || $(PEFTLAB) dataset export chaoyang-synth --to data/byo/byo-chaoyang --limit 200
	@[ -f checkpoints/byo/ori.safetensors ] || python3 scripts/byo_checkpoints.py --data data/byo --out checkpoints/byo
	$(PEFTLAB) run --pipeline Pipelines/byo-example.yaml --jobs 2 --threads $(THREADS)

bench: build
	$(PEFTLAB) bench train --threads $(THREADS)

# Regenerates the PyTorch reference fixtures (needs torch, timm, open_clip_torch,
# h5py, safetensors, scikit-learn from PyPI; CI does not).
fixtures:
	python3 scripts/make_fixtures.py

# Layout: `make format` rewrites Sources/Tests with .swift-format; `make lint` checks (CI runs it).
format:
	swift format --in-place --recursive Sources Tests Package.swift

lint:
	scripts/check_format.sh

clean:
	rm -rf .build out
