#!/usr/bin/env bash
# Installs the Debian 12 packages trm builds and tests with. Safe to re-run.
#   --reference   also install PyTorch (python3-torch), only needed to regenerate test fixtures
#                 or run the side-by-side benchmarks against the PyTorch reference.
#   --fuzz        also install clang 14 with libFuzzer and the sanitizer runtimes, for the fuzz
#                 targets (CMake preset "fuzz", scripts/fuzz.sh).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libopenblas-openmp-dev   # GEMM; the OpenMP build shares threads with our own OpenMP loops
  libdnnl-dev              # oneDNN: the bf16 and int8 GEMMs (docs/PRECISION.md)
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  libyaml-cpp-dev          # all_config.yaml of the official TRM/HRM checkpoints (trm import / export)
  libcairo2-dev libgif-dev # pictures: trm plot, trm solve --render (PNG via cairo, GIF via giflib; docs/VISUALS.md)
  chromium chromium-driver # the web page's real-browser test (tests/browser, driven by playwright-core)
  curl ca-certificates     # `trm data download`
  pybind11-dev python3-dev python3-numpy python3-pytest  # the Python module `trm` and its tests (docs/LIBRARY.md)
  wrk                      # HTTP load generator for the trm serve measurements (docs/SERVING.md)
  libopenmpi-dev openmpi-bin  # data-parallel training over MPI (mpirun -np N trm train; docs/DISTRIBUTED.md)
)
for arg in "$@"; do
  case $arg in
    --reference) packages+=(python3-torch python3-numpy) ;;
    --fuzz) packages+=(clang-14 libclang-rt-14-dev llvm-14) ;;  # llvm-14: llvm-symbolizer for readable reports
    *) echo "install-deps: unknown option $arg (use --reference, --fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages already installed"
else
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- npm: the MCP end-to-end test's client (tests/mcp, the official @modelcontextprotocol/sdk) ----
# Installed from the committed package-lock.json; tests/serve_e2e.sh fails (not skips) without it.
if command -v npm > /dev/null; then
  echo "install-deps: npm ci in tests/mcp"
  (cd "$(dirname "$0")/../tests/mcp" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install-deps: npm not found: tests/mcp not installed (the serve_e2e test will fail)" >&2
fi

# ---- tests/browser: playwright-core for the web page's browser test (docs/VISUALS.md) ----------
# Installed from the committed package-lock.json; the test drives Debian's /usr/bin/chromium, so
# no browser is downloaded.
if command -v npm > /dev/null; then
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  echo "install-deps: npm ci in tests/browser"
  (cd "$repo/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
else
  echo "install-deps: npm not found: tests/browser not installed (the browser_page test will fail)" >&2
fi
