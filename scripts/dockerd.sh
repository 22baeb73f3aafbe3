#!/usr/bin/env bash
# A dockerd of vpnlab's own beside any other Docker on the host: its own
# socket, data root and exec root under the NAME, no bridge, no iptables/
# ip6tables rules and no ip_forward change, so starting it leaves the host's
# interfaces, routes and firewall as they were (lab wiring is vpnlab's job).
#   scripts/dockerd.sh NAME         start (or find running), wait until it answers, print its socket URL
#   scripts/dockerd.sh NAME stop    end it by the PID in its pidfile
set -euo pipefail

usage() { echo "usage: $0 NAME [start|stop]" >&2; exit 2; }
name=${1:-}
action=${2:-start}
[[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || usage

dir=/run/vpnlab-$name
sock=unix://$dir/docker.sock
pidfile=$dir/docker.pid
log=$dir/dockerd.log

alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
# the pidfile's PID is this engine's dockerd only if it still runs dockerd with this socket:
# a stale pidfile's PID may have been reused by any process, which `stop` must never signal
ours() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || return 1
  [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == dockerd ]] || return 1
  local args a prev=""
  mapfile -d '' args < "/proc/$1/cmdline" 2>/dev/null || return 1
  for a in "${args[@]}"; do
    [[ "$prev" == -H && "$a" == "$sock" ]] && return 0
    [[ "$a" == "-H=$sock" || "$a" == "--host=$sock" ]] && return 0
    prev=$a
  done
  return 1
}
answers() { docker -H "$sock" info >/dev/null 2>&1; }

case "$action" in
stop)
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if ! alive "$pid"; then echo "dockerd $name: not running"; exit 0; fi
  if ! ours "$pid"; then echo "dockerd $name: pid $pid of $pidfile is not dockerd -H $sock (a stale pidfile): not signalled" >&2; exit 1; fi
  kill -TERM "$pid"
  # dockerd stops its containers and its own containerd first: give it time
  for _ in $(seq 1 300); do alive "$pid" || { echo "dockerd $name: stopped (pid $pid)"; exit 0; }; sleep 0.1; done
  echo "dockerd $name: pid $pid still running after 30 s; see $log" >&2
  exit 1
  ;;
start) ;;
*) usage ;;
esac

command -v dockerd >/dev/null || { echo "dockerd not found: apt-get install docker.io" >&2; exit 1; }
command -v docker >/dev/null || { echo "docker CLI not found: apt-get install docker.io" >&2; exit 1; }

pid=$(cat "$pidfile" 2>/dev/null || true)
if ours "$pid" && answers; then echo "$sock"; exit 0; fi

mkdir -p "$dir" "/var/lib/vpnlab-$name"
# setsid: the daemon outlives this script and the caller's terminal; its own pidfile names it for `stop`
setsid dockerd \
  -H "$sock" \
  --data-root "/var/lib/vpnlab-$name" \
  --exec-root "$dir/exec" \
  --pidfile "$pidfile" \
  --bridge none \
  --iptables=false \
  --ip6tables=false \
  --ip-forward=false \
  --ip-masq=false \
  --containerd-namespace "vpnlab-$name" \
  --containerd-plugins-namespace "vpnlab-$name-plugins" \
  >>"$log" 2>&1 </dev/null &
started=$!

for _ in $(seq 1 600); do
  if answers; then echo "$sock"; exit 0; fi
  if ! alive "$started"; then
    echo "dockerd $name exited while starting; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "dockerd $name: no answer on $sock after 60 s; last lines of $log:" >&2
tail -n 20 "$log" >&2
exit 1
