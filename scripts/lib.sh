# Shared by scripts/demo.sh, scripts/test.sh, scripts/dev.sh and bench/.

# Node options every Ferry worker these scripts start runs with (worker/gcTuning.ts says why;
# package.json's worker scripts carry the same).
FERRY_WORKER_NODE_FLAGS="--no-concurrent-array-buffer-sweeping"

# Installs node_modules when missing or when package-lock.json changed since the last install.
ensure_node_modules() {
  local root="$1" stamp="$1/node_modules/.ferry-lock-hash" want
  want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  echo "[ferry] installing node modules from package-lock.json" >&2
  # `npm install --no-save` rather than `npm ci`: the registry here lacks @swc/core's optional
  # platform packages, which npm ci reports as a lock mismatch; install keeps the locked versions.
  (cd "$root" && npm install --no-save --no-audit --no-fund --loglevel=error) >&2
  echo "$want" >"$stamp"
}
