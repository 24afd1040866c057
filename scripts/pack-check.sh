#!/usr/bin/env bash
# Packs the npm tarball as a user gets it, installs it globally into a temp prefix and runs the installed copy:
# wo --version, wo doctor, a daemon + wo canary, check-history, and `npx <tarball> doctor` (what `npx wo-daemon doctor` runs).
# Usage: scripts/pack-check.sh  (from anywhere; needs npm and the registry or a warm npm cache for the runtime deps)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/wo-pack-check.XXXXXX")"
DAEMON_PID=""
NPX_CACHE="$(npm config get cache)/_npx"
NPM_QUIET=(--no-audit --no-fund --prefer-offline --loglevel=error)

cleanup() {
  if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then kill -TERM "$DAEMON_PID" 2>/dev/null || true; wait "$DAEMON_PID" 2>/dev/null || true; fi
  # npx keeps an install per spec under <cache>/_npx/<hash>: remove only the ones made for this run's tarball.
  if [[ -n "${TGZ:-}" && -d "$NPX_CACHE" ]]; then
    grep -l -F "$TGZ" "$NPX_CACHE"/*/package.json 2>/dev/null | while read -r f; do rm -rf "$(dirname "$f")"; done || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
fail() { printf 'pack-check: FAIL: %s\n' "$*" >&2; exit 1; }

step "npm pack (prepack: clean build)"
(cd "$REPO" && npm pack --pack-destination "$TMP" --loglevel=error >/dev/null)
TGZ="$(ls "$TMP"/*.tgz)"
[[ -f "$TGZ" ]] || fail "npm pack made no tarball"
NAME="$(node -p "require('$REPO/package.json').name")"
VERSION="$(node -p "require('$REPO/package.json').version")"
echo "$(basename "$TGZ"): $(du -k "$TGZ" | cut -f1) KiB, $(tar -tzf "$TGZ" | wc -l) files"

step "tarball contents"
LIST="$TMP/contents.txt"
tar -tzf "$TGZ" | sed 's#^package/##' | sort >"$LIST"
for f in package.json README.md LICENSE bin/wo bin/check-history dist/cli/main.js dist/http/static/index.html dist/http/static/dashboard.js dist/http/static/dashboard.css \
         launchd/com.wo.daemon.plist.template systemd/wo.service.template examples/canary.yaml docs/SPEC.md; do
  grep -qx -F "$f" "$LIST" || fail "the tarball lacks $f"
done
if grep -E '^(src|tests|\.ci|node_modules|bridge|g)/|\.map$|^dist/bench/|^dist/test-results\.json$' "$LIST"; then
  fail "the tarball ships files a user does not need (listed above)"
fi
echo "ok: dist, bin, units, examples, docs, README, LICENSE; no src/tests/.ci/maps"

step "npm install -g --prefix <tmp> <tarball>"
PREFIX="$TMP/prefix"
npm install -g --prefix "$PREFIX" "${NPM_QUIET[@]}" "$TGZ"
WO="$PREFIX/bin/wo"
[[ -x "$WO" && -x "$PREFIX/bin/check-history" && -x "$PREFIX/bin/$NAME" ]] || fail "the global install lacks the wo, check-history or $NAME bin"
echo "installed: $(readlink "$WO") (a symlink, as npm links bins)"

# Run the installed copy from a folder that is not the checkout, with a PATH that does not see the checkout's bins.
ROOT="$TMP/root"
mkdir -m 700 "$ROOT"
printf 'http:\n  enabled: false\n' >"$ROOT/wo.config.yaml"
cd "$TMP"
export NO_COLOR=1
unset WO_ROOT WO_DRY_RUN NODE_OPTIONS || true

step "wo --version"
GOT="$("$WO" --version)"
echo "$GOT"
[[ "$GOT" == "$VERSION" ]] || fail "wo --version said '$GOT', package.json says $VERSION"

step "wo doctor --root <tmp root>"
"$WO" doctor --root "$ROOT" || fail "wo doctor exited $? (a check failed; see its fix line above)"

step "wo daemon (background) + wo canary"
"$WO" daemon --root "$ROOT" >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
ready() { node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.exit(j.ready===true&&j.pid===Number(process.argv[2])?0:1)' "$ROOT/g/run/daemon.json" "$DAEMON_PID" 2>/dev/null; }
for _ in $(seq 1 300); do
  ready && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$TMP/daemon.log" >&2; fail "the installed daemon exited before it was ready"; }
  sleep 0.2
done
ready || { cat "$TMP/daemon.log" >&2; fail "the installed daemon was not ready within 60 s"; }
echo "daemon pid $DAEMON_PID ready"
"$WO" canary --root "$ROOT" --timeout 60 || { cat "$TMP/daemon.log" >&2; fail "wo canary failed against the installed daemon"; }
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "the daemon exited with status $? on SIGTERM"
DAEMON_PID=""
echo "daemon stopped"

step "check-history --help"
"$PREFIX/bin/check-history" --help >/dev/null || fail "check-history --help failed"
echo "ok"

step "npx --package <tarball> $NAME doctor (what npx $NAME doctor runs once published)"
npx --yes "${NPM_QUIET[@]}" --package "$TGZ" -- "$NAME" doctor --root "$ROOT" || fail "npx $NAME doctor exited $?"

printf '\npack-check: ok (%s@%s)\n' "$NAME" "$VERSION"
