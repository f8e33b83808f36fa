# Source this to use embodied_memory from a shell: `source scripts/env.sh`.
# Puts .venv first on PATH, finds the ROS install (system ROS + colcon workspace, or the wheels in
# .venv), and keeps every ROS process on this machine with its logs and caches in build/.
_em_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_em_root/.venv/bin:$PATH"
if [ -f "$_em_root/install/setup.bash" ]; then
  for _em_ros in /opt/ros/*/setup.bash; do [ -f "$_em_ros" ] && { set +u; source "$_em_ros"; }; done
  set +u; source "$_em_root/install/setup.bash"
else
  # ament_index lookups (share/embodied_memory, interface type support) resolve inside .venv.
  export AMENT_PREFIX_PATH="$_em_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# DDS discovery must not leave this machine; robots that need the network set their own value.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
# Shared memory large enough for whole camera frame sets (config/fastdds.xml says why).
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_em_root/config/fastdds.xml}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$_em_root/build/log/ros}"
# Models load from installed packages only; nothing is fetched at run time.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
export HF_HOME="${HF_HOME:-$_em_root/build/cache/huggingface}"
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$_em_root/build/cache}"
mkdir -p "$ROS_LOG_DIR" "$HF_HOME"
unset _em_root _em_ros
