# shellcheck shell=bash
# Starting and stopping the demo stack (sandbox world + Backstage backend + frontend).
# Sourced by scripts/start (foreground, Ctrl-C stops all) and scripts/test (for the browser tests).

STATE_DIR="$REPO_ROOT/.sandbox"
STACK_PIDS=()

# Runs a command in its own process group, so stopping it stops everything it spawned.
spawn_group() {
  local log="$1"
  shift
  setsid "$@" >"$log" 2>&1 &
  STACK_PIDS+=("$!")
}

stop_stack() {
  local pid
  for pid in "${STACK_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${STACK_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  STACK_PIDS=()
}

wait_for_url() {
  local url="$1" what="$2" seconds="${3:-180}" pid="${4:-}"
  for _ in $(seq 1 "$seconds"); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      echo "$what exited before it was ready" >&2
      return 1
    fi
    sleep 1
  done
  echo "$what did not answer $url within ${seconds}s" >&2
  return 1
}

# Starts the sandbox, then the backend (SQLite) and the frontend dev server against it.
start_stack() {
  mkdir -p "$STATE_DIR/logs"
  rm -f "$STATE_DIR/ready"
  echo "==> Starting the sandbox world (logs: .sandbox/logs/sandbox.log)"
  spawn_group "$STATE_DIR/logs/sandbox.log" node "$REPO_ROOT/packages/sandbox/bin/gitops-sandbox" start --state-dir "$STATE_DIR"
  local sandbox_pid="${STACK_PIDS[-1]}"
  for _ in $(seq 1 120); do
    [ -f "$STATE_DIR/ready" ] && break
    if ! kill -0 "$sandbox_pid" 2>/dev/null; then
      tail -n 40 "$STATE_DIR/logs/sandbox.log" >&2
      echo "The sandbox exited before it was ready" >&2
      return 1
    fi
    sleep 1
  done
  [ -f "$STATE_DIR/ready" ] || { echo "The sandbox was not ready within 120s" >&2; return 1; }

  echo "==> Starting Backstage (logs: .sandbox/logs/backstage.log)"
  spawn_group "$STATE_DIR/logs/backstage.log" yarn start --config "$REPO_ROOT/app-config.yaml" --config "$STATE_DIR/app-config.sandbox.yaml"
  local backstage_pid="${STACK_PIDS[-1]}"
  wait_for_url "http://localhost:7007/api/gitops/health" "The backend" 240 "$backstage_pid" || { tail -n 60 "$STATE_DIR/logs/backstage.log" >&2; return 1; }
  wait_for_url "http://localhost:3000" "The frontend" 240 "$backstage_pid" || { tail -n 60 "$STATE_DIR/logs/backstage.log" >&2; return 1; }
}
