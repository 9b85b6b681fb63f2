#!/usr/bin/env bash
# Measure real PostgreSQL 15 + psql 15 on a grid of pg_hba.conf / ssl / password / sslmode
# cases and write spec/data/pg15/psql-grid.json and spec/data/pg15/seed-scenarios.json.
#
# Self-contained and re-runnable: builds oracle/hook_probe in a temp dir, makes a throwaway
# CA and server certificate, initdb's a throwaway cluster as the postgres OS user, runs the
# cases (oracle/pg15-grid.mjs), then stops the server and removes the temp dir on exit.
#
# Usage (as root, from anywhere):  bash oracle/run-pg15-grid.sh [--quick]
#   --quick  skip the seed scenarios (they take ~20 s with a 2 s delay) and leave
#            seed-scenarios.json untouched; for trying changes.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
PGBIN=/usr/lib/postgresql/15/bin
PG_CONFIG="$PGBIN/pg_config"
OUT_DIR="$REPO/spec/data/pg15"

die() { echo "run-pg15-grid: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (the cluster is run as the postgres OS user through runuser)"
[ -x "$PGBIN/postgres" ] || die "PostgreSQL 15 server not found in $PGBIN (apt-get install postgresql-15)"
command -v psql >/dev/null || die "psql not found (apt-get install postgresql-client-15)"
command -v openssl >/dev/null || die "openssl CLI not found"
command -v node >/dev/null || die "node not found"
id postgres >/dev/null 2>&1 || die "the postgres OS user does not exist"
if [ ! -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ]; then
  echo "run-pg15-grid: server headers missing; installing postgresql-server-dev-15 libkrb5-dev" >&2
  apt-get update -qq && apt-get install -y -qq postgresql-server-dev-15 libkrb5-dev >/dev/null
fi

WORK="$(mktemp -d /tmp/pg15-oracle.XXXXXX)"
DATA="$WORK/data"
cleanup() {
  local rc=$?
  if [ -f "$DATA/postmaster.pid" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. hook_probe, built out of tree so the repo stays clean; loaded later by absolute path,
#    so nothing is installed into the system's PostgreSQL lib dir.
cp -r "$HERE/hook_probe" "$WORK/hook_probe"
make -s -C "$WORK/hook_probe" PG_CONFIG="$PG_CONFIG" with_llvm=no >/dev/null

# 2. A throwaway CA and a server certificate for 127.0.0.1 / localhost.
CERTS="$WORK/certs"
mkdir -p "$CERTS"
(
  cd "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pg-authsim oracle CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile server.ext -out server.crt 2>/dev/null
  chmod 600 server.key
)

# 3. The cluster, owned by postgres; psql (run as root) only needs ca.crt.
mkdir -p "$WORK/sock" "$WORK/home"
chown -R postgres:postgres "$WORK"
chmod 755 "$WORK"
runuser -u postgres -- env LC_ALL=C "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C -N \
  >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }

PORT="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

node "$HERE/pg15-grid.mjs" --work "$WORK" --port "$PORT" --pgbin "$PGBIN" --out "$OUT_DIR" "$@"
