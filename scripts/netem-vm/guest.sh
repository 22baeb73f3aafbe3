#!/bin/bash
# PID 1 of the netem VM once the initramfs has switched to the host's / (read
# only, over 9p): load the qdiscs and classifiers the netem backend uses, run
# its live tests with mocha on the host's node and the repository's dist/,
# leave mocha's exit code in the results share, and power the VM off. Its
# output goes to the serial console, which run.sh prints and parses.
# Kernel command line (init's environment): vpnlab_repo=DIR, vpnlab_specs=a,b
# (compiled test files, relative to DIR), vpnlab_grep=PATTERN (optional).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8
OUT=/tmp/vpnlab-vm-out

poweroff_now() {
  sync
  echo o >/proc/sysrq-trigger
  # the power-off is asynchronous and takes the 9p share (and so every program) with it: wait in bash itself
  local end=$((SECONDS + 10))
  while ((SECONDS < end)); do :; done
}
trap poweroff_now EXIT
# moved here by the initramfs; mounted afresh should the move not have carried them
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev

echo "vpnlab-vm: booted in $(cut -d' ' -f1 /proc/uptime) s (kernel $(uname -r), $(nproc) CPU(s))"
echo booted >"$OUT/booted"

# What the backend and its tests use. Loaded here because the kernel's own
# module loader would look for modprobe in the initramfs, which is gone.
modules=(sch_netem sch_prio sch_ingress cls_u32 act_mirred ifb veth)
for m in "${modules[@]}"; do
  if ! err=$(modprobe "$m" 2>&1); then
    echo "vpnlab-vm: modprobe $m failed: $err"
  fi
done
ip link set lo up
# the measuring receivers ask for large socket buffers: an emulated CPU on a busy host can leave
# them unscheduled for a while, and what overflows there is not netem's doing (this is the VM's
# kernel, global and throwaway)
sysctl -q -w net.core.rmem_max=33554432

cd "${vpnlab_repo:?no vpnlab_repo= on the kernel command line}" || exit 1
IFS=, read -r -a specs <<<"${vpnlab_specs:?no vpnlab_specs= on the kernel command line}"
# --exit: a socket or timer a test left open must not hold the VM until run.sh's timeout
args=(--no-config --reporter spec --timeout 300000 --forbid-only --no-color --exit)
[[ -n "${vpnlab_grep:-}" ]] && args+=(--grep "$vpnlab_grep")
# inside the VM netem must be there: the suite fails instead of skipping
export VPNLAB_NETEM_REQUIRED=1
node node_modules/mocha/bin/mocha.js "${args[@]}" "${specs[@]}"
echo $? >"$OUT/rc"
