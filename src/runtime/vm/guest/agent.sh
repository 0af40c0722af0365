#!/bin/sh
# berth's guest agent: busybox sh only, so the initramfs needs no compiler and no runtime.
# Protocol 1 (see docs/VM.md): one JSON object per line each way over the virtio-serial port
# berth.agent. A request is {"v":1,"id":N,"op":"OP",...}; every string the host sends is either an
# identifier ([A-Za-z0-9_.-]) or base64, so sed can take fields out without a JSON parser.
# The reply is {"v":1,"id":N,"ok":true,"result":{...}} or {"v":1,"id":N,"ok":false,"error":{...}};
# output bytes come back base64. Each request runs in its own orphaned subshell, so a long "wait"
# never blocks a "ping". State lives in /run/berth, so a host that reconnects asks again.
PORT=
STATE=/run/berth
RUNC="runc --root /run/runc"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

str() { printf '%s' "$req" | sed -n "s/.*\"$1\":\"\([A-Za-z0-9_.+\/=-]*\)\".*/\1/p"; }
num() { printf '%s' "$req" | sed -n "s/.*\"$1\":\([0-9][0-9]*\).*/\1/p"; }
b64() { printf '%s' "$1" | base64 -d; }
esc() { printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'; }

# One writer at a time on the port: mkdir is atomic (busybox has no flock).
send() {
  until mkdir "$STATE/write.lock" 2>/dev/null; do sleep 0.01; done
  printf '%s\n' "$1" >&3
  rmdir "$STATE/write.lock"
}
ok() { send "{\"v\":1,\"id\":$id,\"ok\":true,\"result\":{$1}}"; }
fail() { send "{\"v\":1,\"id\":$id,\"ok\":false,\"error\":{\"code\":\"$1\",\"message\":\"$(esc "$2")\"}}"; }

# A container's directory: pid (runc's pid file), exit (its exit code once it stopped).
container_dir() {
  case "$cid" in '' | *[!A-Za-z0-9_.-]*) fail bad-request "container id missing or not [A-Za-z0-9_.-]"; return 1 ;; esac
  dir="$STATE/c/$cid"
}

list() { printf '%s' "$req" | sed -n "s/.*\"$1\":\[\([^]]*\)\].*/\1/p" | tr -d '"' | tr ',' ' '; }

# exec: argv and env (NAME=value) base64 each; in a container through runc exec. Output past
# "max" bytes is cut (and said so); "timeout" seconds kill the command (exit 137).
op_exec() {
  argv=$(list argv); env=$(list env); cid=$(str cid)
  [ -n "$argv" ] || { fail bad-request "argv is empty"; return; }
  set --
  if [ -n "$cid" ]; then
    container_dir || return
    set -- $RUNC exec
    for e in $env; do set -- "$@" --env "$(b64 "$e")"; done
    set -- "$@" "$cid"
  elif [ -n "$env" ]; then
    set -- env
    for e in $env; do set -- "$@" "$(b64 "$e")"; done
  fi
  for a in $argv; do set -- "$@" "$(b64 "$a")"; done
  t=$(num timeout); max=$(num max); out=$(mktemp) err=$(mktemp)
  if [ -n "$t" ]; then timeout -s KILL "$t" "$@" >"$out" 2>"$err" </dev/null; else "$@" >"$out" 2>"$err" </dev/null; fi
  code=$?
  cut_out=false cut_err=false
  if [ -n "$max" ]; then
    [ "$(wc -c <"$out")" -gt "$max" ] && cut_out=true && head -c "$max" "$out" >"$out.cut" && mv "$out.cut" "$out"
    [ "$(wc -c <"$err")" -gt "$max" ] && cut_err=true && head -c "$max" "$err" >"$err.cut" && mv "$err.cut" "$err"
  fi
  ok "\"exitCode\":$code,\"stdout\":\"$(base64 -w 0 "$out")\",\"stderr\":\"$(base64 -w 0 "$err")\",\"truncated\":{\"stdout\":$cut_out,\"stderr\":$cut_err}"
  rm -f "$out" "$err"
}

# run: runc runs the bundle (a directory on the 9p share) in the foreground of a monitor subshell
# that writes the exit code; --no-pivot because the guest's root is the initramfs (rootfs cannot
# be pivoted away). Answers once runc wrote the pid file, or fails if runc exited without one.
op_run() {
  cid=$(str cid); container_dir || return
  bundle=$(b64 "$(str bundle)"); stdout=$(b64 "$(str stdout)"); stderr=$(b64 "$(str stderr)")
  [ -f "$bundle/config.json" ] || { fail not-found "no config.json in bundle $bundle"; return; }
  mkdir -p "$STATE/c" && mkdir "$dir" 2>/dev/null || { fail already-exists "container $cid exists"; return; }
  stderr=${stderr:-$dir/stderr} # runc's own complaints land there too
  (
    $RUNC run --no-pivot --pid-file "$dir/pid" --bundle "$bundle" "$cid" </dev/null >"${stdout:-/dev/null}" 2>"$stderr"
    echo $? >"$dir/exit.tmp" && mv "$dir/exit.tmp" "$dir/exit"
    # Wake the waiters; <> opens a FIFO without blocking, even one whose waiter just gave up.
    for f in "$dir"/wait.*; do [ -p "$f" ] && echo 1<>"$f"; done
  ) &
  while [ ! -s "$dir/pid" ] && [ ! -f "$dir/exit" ]; do sleep 0.02; done
  if [ -s "$dir/pid" ]; then ok "\"pid\":$(cat "$dir/pid")"; return; fi
  msg="runc run exited $(cat "$dir/exit") before the container started: $(tail -c 400 "$stderr" 2>/dev/null)"
  rm -rf "$dir"; $RUNC delete -f "$cid" >/dev/null 2>&1
  fail run-failed "$msg"
}

# wait blocks on a FIFO of its own that the monitor writes to after the exit file (no polling,
# which would cost a fork every few ms under TCG); made before looking, so no wake-up is lost.
op_wait() {
  cid=$(str cid); container_dir || return
  [ -d "$dir" ] || { fail not-found "no container $cid"; return; }
  t=$(num timeout); fifo="$dir/wait.$id"
  if [ ! -f "$dir/exit" ] && [ "${t:-0}" -gt 0 ] && mkfifo "$fifo" 2>/dev/null; then
    exec 4<>"$fifo"
    [ -f "$dir/exit" ] || read -r -t "$(((t + 999) / 1000))" _ <&4
    exec 4<&-
    rm -f "$fifo"
  fi
  if [ -f "$dir/exit" ]; then ok "\"exited\":true,\"exitCode\":$(cat "$dir/exit")"; else ok "\"exited\":false"; fi
}

op_state() {
  cid=$(str cid); container_dir || return
  [ -d "$dir" ] || { fail not-found "no container $cid"; return; }
  if [ -f "$dir/exit" ]; then ok "\"status\":\"stopped\",\"exitCode\":$(cat "$dir/exit")"
  else ok "\"status\":\"running\",\"pid\":$(cat "$dir/pid" 2>/dev/null || echo 0)"; fi
}

op_kill() {
  cid=$(str cid); container_dir || return
  [ -d "$dir" ] || { fail not-found "no container $cid"; return; }
  sig=$(str signal)
  [ -f "$dir/exit" ] || $RUNC kill "$cid" "${sig:-TERM}" 2>"$STATE/kill.$id" ||
    [ -f "$dir/exit" ] || { fail kill-failed "$(cat "$STATE/kill.$id")"; rm -f "$STATE/kill.$id"; return; }
  rm -f "$STATE/kill.$id"; ok ""
}

op_delete() {
  cid=$(str cid); container_dir || return
  $RUNC delete -f "$cid" >/dev/null 2>&1
  rm -rf "$dir"; ok ""
}

handle() {
  req=$1
  id=$(num id)
  [ -n "$id" ] || return 0 # not a request (a line cut short by a reconnect): nothing to answer
  [ "$(num v)" = 1 ] || { fail unsupported-version "this agent speaks protocol 1"; return; }
  case "$(str op)" in
    ping) ok "\"protocol\":1,\"agent\":\"berth-agent-sh/1\"" ;;
    info) ok "\"kernelRelease\":\"$(esc "$(uname -r)")\",\"uptime\":\"$(cut -d' ' -f1 /proc/uptime)\"" ;;
    exec) op_exec ;;
    run) op_run ;;
    wait) op_wait ;;
    state) op_state ;;
    kill) op_kill ;;
    delete) op_delete ;;
    shutdown) ok "" && sync && reboot -f ;;
    *) fail unknown-op "unknown op" ;;
  esac
}

mkdir -p "$STATE" /run/runc
rmdir "$STATE/write.lock" 2>/dev/null
# No udev in the guest, so no /dev/virtio-ports/NAME link: find the port by its name in sysfs.
while [ -z "$PORT" ]; do
  for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name" 2>/dev/null)" = berth.agent ] && PORT=/dev/${p##*/}; done
  [ -n "$PORT" ] || sleep 0.05
done
exec 3<>"$PORT"
echo "berth: agent ready" >/dev/console
# read fails at once while no host is connected (the port reads EOF): poll until one is, every
# 0.5 s (at 0.1 s an idle guest took 9% of a core under TCG).
while :; do
  if IFS= read -r line <&3; then (handle "$line" &); else sleep 0.5; fi
done
