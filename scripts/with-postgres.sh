#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster beside it:
#
#   scripts/with-postgres.sh cargo test -p mchatd --test postgres -- --ignored
#
# initdb into a temp directory, pg_ctl start on 127.0.0.1 and a free port
# below the ephemeral range (Unix socket in the same temp directory), export
# MCHAT_TEST_PG_URL (a superuser URL to the `postgres` database: the testkit
# creates one database per test from it), run the command, stop the cluster
# and remove the directory, whatever the command's outcome. The command's
# exit code is the script's.
#
# PostgreSQL refuses to run as root: as root, the cluster runs as the
# `postgres` user (which Debian's package creates; MCHAT_PG_USER picks
# another). The server binaries are found on PATH, else in Debian's
# /usr/lib/postgresql/<newest>/bin. Durability stays PostgreSQL's default
# (fsync on, synchronous_commit on), as in production, unless
# MCHAT_PG_NO_FSYNC=1: the test suites' run, where no one kills PostgreSQL
# and what is measured is not speed, turns fsync off to spend its time on
# the tests rather than on flushing the disk.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: scripts/with-postgres.sh COMMAND [ARG]..." >&2
  exit 2
fi

bindir=
if command -v initdb >/dev/null 2>&1; then
  bindir=$(dirname "$(command -v initdb)")
else
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then bindir=$newest; fi
fi
if [ -z "$bindir" ]; then
  echo "scripts/with-postgres.sh: PostgreSQL's server programs (initdb, pg_ctl) are not installed (Debian: apt-get install postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d -t mchat-pg.XXXXXX)
as_user=()
if [ "$(id -u)" = 0 ]; then
  pg_user=${MCHAT_PG_USER:-postgres}
  if ! id "$pg_user" >/dev/null 2>&1; then
    echo "scripts/with-postgres.sh: running as root and there is no '$pg_user' user to run PostgreSQL as (set MCHAT_PG_USER)" >&2
    exit 1
  fi
  chown "$pg_user" "$dir"
  as_user=(setpriv "--reuid=$pg_user" "--regid=$(id -g "$pg_user")" --init-groups --)
fi
run_pg() { (cd "$dir" && "${as_user[@]}" "$@"); }

started=
cleanup() {
  if [ -n "$started" ]; then
    run_pg "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

run_pg "$bindir/initdb" -D "$dir/data" -U mchat -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log" >&2; exit 1; }

# A port below the ephemeral range (where the tests' clients bind), retried
# when another process has it.
durability=
if [ "${MCHAT_PG_NO_FSYNC:-}" = 1 ]; then
  durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
for _ in 1 2 3 4 5 6 7 8; do
  port=$((20000 + RANDOM % 10000))
  if run_pg "$bindir/pg_ctl" start -D "$dir/data" -w -t 30 -l "$dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c shared_buffers=64MB $durability" \
    >/dev/null 2>&1; then
    started=1
    break
  fi
done
if [ -z "$started" ]; then
  echo "scripts/with-postgres.sh: PostgreSQL did not start; its log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
fi

export MCHAT_TEST_PG_URL="postgres://mchat@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $MCHAT_TEST_PG_URL" >&2
status=0
"$@" || status=$?
exit "$status"
