#!/usr/bin/env bash
# Validates the packaging in dist/ with the real tools, fast enough for CI:
#
# - systemd/mchatd.service: `systemd-analyze verify` (any warning fails) and
#   `systemd-analyze security` (exposure at most 2.0, "OK").
# - nginx/mchatd.conf and mchatd-nodes.conf: `nginx -t` inside a minimal http {} with a throwaway
#   certificate in place of Let's Encrypt's.
# - caddy/Caddyfile and Caddyfile.nodes: `caddy validate` and `caddy fmt`
#   (formatted as Caddy would).
# - Dockerfile: its shape (multi-stage, non-root, /data volume, healthcheck
#   on /healthz, --locked dist build). With a Docker engine and
#   DIST_DOCKER_BUILD=1 it builds and runs the image; otherwise its RUN steps
#   run as a script in a scratch directory (all but the 10-minute `cargo
#   build`, whose place a debug mchatd takes), the result is started as the
#   image would start it (its ENV, its uid) and the HEALTHCHECK command must
#   pass against it, and fail against a closed port.
#
# Missing tools (nginx, caddy, systemd-analyze, openssl, python3) are
# installed from Debian's packages when running as root. Needs a built
# mchatd (target/debug/mchatd, which the test run leaves; built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d -t mchatd-dist-check.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf -- '-- %s (%ss)\n' "$*" "$SECONDS"; }
fail() {
  echo "dist/check.sh: $*" >&2
  exit 1
}

step "tools"
packages=()
command -v nginx >/dev/null 2>&1 || packages+=(nginx-light)
command -v caddy >/dev/null 2>&1 || packages+=(caddy)
command -v systemd-analyze >/dev/null 2>&1 || packages+=(systemd)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
command -v setpriv >/dev/null 2>&1 || packages+=(util-linux)
if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    fail "missing ${packages[*]}: install them (Debian: apt-get install ${packages[*]})"
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Only the validators are wanted: keep nginx and caddy from starting as
  # services (policy-rc.d exit 101: "not allowed"), unless a policy exists.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

mchatd="$PWD/target/debug/mchatd"
if [ ! -x "$mchatd" ]; then
  cargo build --locked -q -p mchatd --bin mchatd
fi

step "systemd unit"
# verify insists that ExecStart exists: point it at the built binary.
sed "s#/usr/local/bin/mchatd#$mchatd#g" dist/systemd/mchatd.service >"$work/mchatd.service"
# It exits 0 on unknown keys and bad values (it only warns): any output fails.
verify=$(systemd-analyze verify "$work/mchatd.service" 2>&1) || fail "systemd-analyze verify failed: $verify"
[ -z "$verify" ] || fail "systemd-analyze verify warns: $verify"
# --threshold is in tenths: 20 is an exposure of 2.0 ("OK").
systemd-analyze security --offline=yes --threshold=20 "$work/mchatd.service" >"$work/security.txt" 2>&1 ||
  fail "the unit's exposure is above 2.0: $(tail -n 1 "$work/security.txt")"
tail -n 1 "$work/security.txt"
grep -q '^DynamicUser=yes' dist/systemd/mchatd.service || fail "the unit must use DynamicUser=yes"
grep -q '^StateDirectory=mchatd' dist/systemd/mchatd.service || fail "the unit must set StateDirectory=mchatd"

step "nginx"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=chat.example.org -days 1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
for site in dist/nginx/mchatd.conf dist/nginx/mchatd-nodes.conf; do
  sed -e "s#/etc/letsencrypt/live/chat.example.org/fullchain.pem#$work/cert.pem#" \
    -e "s#/etc/letsencrypt/live/chat.example.org/privkey.pem#$work/key.pem#" \
    "$site" >"$work/site.conf"
  cat >"$work/nginx.conf" <<EOF
pid $work/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    include $work/site.conf;
}
EOF
  nginx -t -q -e stderr -p "$work" -c "$work/nginx.conf" || fail "nginx -t refused $site"
  # shellcheck disable=SC2016 # the literal nginx variable
  grep -qF 'proxy_set_header Upgrade $http_upgrade' "$site" || fail "nginx: no WebSocket upgrade in $site"
done

step "caddy"
for site in dist/caddy/Caddyfile dist/caddy/Caddyfile.nodes; do
  XDG_DATA_HOME="$work/caddy" XDG_CONFIG_HOME="$work/caddy" \
    caddy validate --config "$site" --adapter caddyfile >"$work/caddy.log" 2>&1 ||
    fail "caddy validate refused $site: $(tail -n 3 "$work/caddy.log")"
  caddy fmt "$site" | diff -u "$site" - >&2 || fail "$site is not formatted (caddy fmt --overwrite)"
done

step "Dockerfile"
# The shape, and the runtime's settings as shell assignments for below.
python3 - dist/Dockerfile >"$work/docker.env" <<'PY'
import json, re, shlex, sys

text = open(sys.argv[1]).read()
# Join continuation lines, drop comments and blanks.
lines, cur = [], ""
for raw in text.splitlines():
    if not cur and (raw.strip().startswith("#") or not raw.strip()):
        continue
    if raw.rstrip().endswith("\\"):
        cur += raw.rstrip()[:-1] + " "
        continue
    lines.append((cur + raw).strip())
    cur = ""
stages = []
for line in lines:
    op, _, arg = line.partition(" ")
    op = op.upper()
    if op == "FROM":
        name = re.search(r"\sAS\s+(\S+)", arg, re.I)
        stages.append({"name": name.group(1) if name else str(len(stages)), "ops": []})
    elif stages:
        stages[-1]["ops"].append((op, arg.strip()))

def die(why):
    sys.exit(f"dist/Dockerfile: {why}")

if len(stages) < 2:
    die("not multi-stage (a build stage and a small runtime stage)")
build, runtime = stages[0], stages[-1]
ops = lambda stage, op: [a for o, a in stage["ops"] if o == op]
runs = ops(build, "RUN")
if not any("cargo build" in r and "--locked" in r and "--profile dist" in r for r in runs):
    die("the build stage must run `cargo build --locked --profile dist`")
if ops(runtime, "RUN"):
    die("the runtime stage should need no RUN step")
user = (ops(runtime, "USER") or ["root"])[-1].split(":")[0]
if user in ("root", "0"):
    die("the runtime stage must run as a non-root USER")
if not any("/data" in v for v in ops(runtime, "VOLUME")):
    die("no /data VOLUME")
health = ops(runtime, "HEALTHCHECK")
if not health or "/healthz" not in health[-1]:
    die("no HEALTHCHECK on /healthz")
if "7878" not in " ".join(ops(runtime, "EXPOSE")):
    die("EXPOSE 7878 missing")
if not any("mchatd" in e for e in ops(runtime, "ENTRYPOINT")):
    die("the ENTRYPOINT is not mchatd")
names = [s["name"] for s in stages]
copies = []
for c in ops(runtime, "COPY"):
    m = re.match(r"((?:--\S+\s+)*)(\S+)\s+(\S+)$", c)
    flags = dict(f.lstrip("-").split("=", 1) for f in (m.group(1) or "").split())
    if flags.get("from") not in names[:-1]:
        die(f"COPY from an unknown stage: {c}")
    copies.append((m.group(2), m.group(3), flags.get("chown", "")))
cmd = health[-1].split("CMD", 1)[1].strip()
health_argv = json.loads(cmd) if cmd.startswith("[") else ["sh", "-c", cmd]
env = {}
for e in ops(runtime, "ENV"):
    for kv in shlex.split(e):
        k, _, v = kv.partition("=")
        env[k] = v
print(f"runtime_user={shlex.quote(user)}")
print(f"health_argv=({' '.join(shlex.quote(a) for a in health_argv)})")
print(f"runs=({' '.join(shlex.quote(r) for r in runs)})")
print(f"copies=({' '.join(shlex.quote(' '.join(c)) for c in copies)})")
print(f"image_env=({' '.join(shlex.quote(k + '=' + v) for k, v in env.items())})")
PY
runtime_user='' health_argv=() runs=() copies=() image_env=()
# shellcheck disable=SC1091 # written just above
. "$work/docker.env"

if [ "${DIST_DOCKER_BUILD:-0}" = 1 ] && docker info >/dev/null 2>&1; then
  step "docker build (engine present, DIST_DOCKER_BUILD=1)"
  docker build -q -f dist/Dockerfile -t mchatd:dist-check . >/dev/null
  cid=$(docker run -d -P mchatd:dist-check)
  trap 'docker rm -f "$cid" >/dev/null 2>&1 || true; cleanup' EXIT
  for _ in $(seq 60); do
    state=$(docker inspect -f '{{.State.Health.Status}}' "$cid")
    [ "$state" = healthy ] && break
    sleep 1
  done
  [ "$state" = healthy ] || fail "the container is not healthy: $state"
  echo "image healthy"
  exit 0
fi

step "Dockerfile RUN steps as a script (no engine, or DIST_DOCKER_BUILD unset)"
# The build stage's /out and target/dist/ live in the scratch directory; the
# dist build itself (10+ minutes on two cores) is left to `cargo install` /
# a real image build, and the debug mchatd stands in for its output.
mkdir -p "$work/target-dist"
cp "$mchatd" "$work/target-dist/mchatd"
for run in "${runs[@]}"; do
  script=${run//\/out/$work/out}
  script=${script//target\/dist\//$work/target-dist/}
  if [[ $script == *"cargo build"* ]]; then
    echo "skipped (stand-in binary): $run"
    continue
  fi
  echo "RUN $run"
  bash -euo pipefail -c "$script" || fail "the Dockerfile step failed: $run"
done
# The runtime stage's COPY --from=build, into a root of its own.
root="$work/root"
for copy in "${copies[@]}"; do
  read -r src dest chown <<<"$copy"
  mkdir -p "$root$(dirname "$dest")"
  cp -a "${src//\/out/$work/out}" "$root$dest"
  if [ -n "$chown" ] && [ "$(id -u)" = 0 ]; then chown -R "$chown" "$root$dest"; fi
done
[ -x "$root/usr/local/bin/mchatd" ] || fail "the runtime stage has no /usr/local/bin/mchatd"

# Start it as the image would: its ENV (the data dir moved under the scratch
# root, the port a free one), as its uid when we can switch to it.
env_args=()
for kv in "${image_env[@]}"; do
  case $kv in
    MCHATD_SERVER__BIND=*) env_args+=("MCHATD_SERVER__BIND=127.0.0.1:0") ;;
    MCHATD_SERVER__DATA_DIR=*) env_args+=("MCHATD_SERVER__DATA_DIR=$root${kv#*=}") ;;
    *) env_args+=("$kv") ;;
  esac
done
as_user=()
if [ "$(id -u)" = 0 ]; then
  as_user=(setpriv --reuid="$runtime_user" --regid="$runtime_user" --clear-groups)
  chmod o+x "$work" # the uid must reach its data dir
fi
env -i PATH=/usr/bin:/bin "${env_args[@]}" "${as_user[@]}" "$root/usr/local/bin/mchatd" serve \
  >"$work/mchatd.out" 2>"$work/mchatd.err" &
server_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^mchatd listening on http:\/\/127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/mchatd.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || fail "the image's mchatd did not start: $(tail -n 5 "$work/mchatd.err")"
[ -f "$root/data/mchatd.sqlite3" ] || fail "the database is not on the /data volume"

# The HEALTHCHECK command itself, with the image's port swapped for ours.
health=("${health_argv[@]//7878/$port}")
"${health[@]}" || fail "the HEALTHCHECK failed against a healthy server: ${health_argv[*]}"
closed=("${health_argv[@]//7878/1}")
if "${closed[@]}" 2>/dev/null; then fail "the HEALTHCHECK passes against a closed port"; fi
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=
echo "runtime: non-root ($runtime_user), /data holds the database, HEALTHCHECK passes"

step "dist ok"
