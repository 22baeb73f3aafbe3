#!/usr/bin/env bash
# npm run test:netem — the netem backend's live tests on a real netem: boots
# Debian's stock kernel (linux-image-amd64) in qemu under TCG with a small
# initramfs (static busybox + the 9p modules), shares the host's / read-only
# into it (node, iproute2, this repository's dist/ and node_modules), runs
# mocha there on the serial console, and powers the VM off. No network device
# (-nic none): the guest never touches the host's network.
#
# Prints mocha's output and, last, "netem VM: N passing, N failing, N pending"
# (what .ci/run parses). Exits non-zero when a test failed, when any test was
# skipped (inside the VM nothing may skip), or when the VM did not boot or
# finish in time. The VM is killed by PID on any exit, temp files removed.
#
# Environment:
#   VPNLAB_VM_KERNEL=/boot/vmlinuz-X   kernel (default: the newest one whose modules have sch_netem)
#   VPNLAB_VM_ACCEL=tcg|kvm            default tcg (a KVM boot hung on some hosts)
#   VPNLAB_VM_BOOT_TIMEOUT=120         seconds until the guest must say it booted
#   VPNLAB_VM_TEST_TIMEOUT=900         seconds for the tests, after the boot
#   VPNLAB_VM_SPECS=a.js,b.js          compiled test files (default: the netem live suite)
#   VPNLAB_VM_GREP=PATTERN             mocha --grep inside the guest
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd -P)
started=$(date +%s.%N)
say() { echo "netem VM: $*"; }
die() { say "$*" >&2; exit 2; }

for tool in qemu-system-x86_64 busybox cpio gzip modprobe; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install qemu-system-x86 busybox-static cpio kmod)"
done
BUSYBOX=$(command -v busybox)
[[ "$(LC_ALL=C ldd "$BUSYBOX" 2>&1)" == *"not a dynamic"* ]] || die "$BUSYBOX is not statically linked (apt-get install busybox-static)"
[[ "$REPO" != *[[:space:]\"]* ]] || die "the repository path $REPO has a space or quote: the kernel command line cannot carry it"

# the kernel: given, or the newest with sch_netem among its modules
KERNEL=${VPNLAB_VM_KERNEL:-}
if [[ -z "$KERNEL" ]]; then
  for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
    v=${k#/boot/vmlinuz-}
    if modprobe -S "$v" --show-depends sch_netem >/dev/null 2>&1; then KERNEL=$k; break; fi
  done
fi
[[ -n "$KERNEL" && -r "$KERNEL" ]] || die "no readable kernel with sch_netem in /boot (apt-get install linux-image-amd64; as root: the image is mode 0600)"
KVER=${KERNEL#/boot/vmlinuz-}
modprobe -S "$KVER" --show-depends sch_netem >/dev/null 2>&1 || die "$KERNEL: /lib/modules/$KVER has no sch_netem"

SPECS=${VPNLAB_VM_SPECS:-dist/harness/impair/netem-live.test.js}
IFS=, read -r -a spec_list <<<"$SPECS"
for s in "${spec_list[@]}"; do [[ -f "$s" ]] || die "$s not found: build first (npx tsc -p .)"; done
[[ -f node_modules/mocha/bin/mocha.js ]] || die "node_modules/mocha missing: run npm ci"
GREP=${VPNLAB_VM_GREP:-}
[[ "$GREP" != *[\"]* ]] || die "VPNLAB_VM_GREP cannot hold a double quote"
ACCEL=${VPNLAB_VM_ACCEL:-tcg}
BOOT_TIMEOUT=${VPNLAB_VM_BOOT_TIMEOUT:-120}
TEST_TIMEOUT=${VPNLAB_VM_TEST_TIMEOUT:-900}

TMP=$(mktemp -d /tmp/vpnlab-netem-vm.XXXXXX)
QEMU_PID=
cleanup() {
  if [[ -n "$QEMU_PID" ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill "$QEMU_PID" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$QEMU_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM
trap "exit 129" HUP

# ---- the initramfs: busybox, the 9p-over-virtio modules in load order, /init
root=$TMP/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,tmp,newroot}
cp "$BUSYBOX" "$root/bin/busybox"
cp scripts/netem-vm/init "$root/init"
chmod 0755 "$root/init"
: >"$root/modules.order"
for m in virtio_pci 9pnet_virtio 9p; do
  deps=$(modprobe -S "$KVER" --show-depends "$m") || die "modprobe --show-depends $m for $KVER failed"
  while read -r verb path _; do
    [[ "$verb" == insmod ]] || continue # builtin
    dest=/modules/${path##*/}
    if [[ ! -e "$root$dest" ]]; then
      mkdir -p "$root/modules"
      case "$path" in
        *.ko) cp "$path" "$root$dest" ;;
        *.ko.xz) xz -dc "$path" >"$root${dest%.xz}"; dest=${dest%.xz} ;;
        *.ko.zst) zstd -qdc "$path" >"$root${dest%.zst}"; dest=${dest%.zst} ;;
        *) die "cannot unpack module $path" ;;
      esac
      echo "$dest" >>"$root/modules.order"
    fi
  done <<<"$deps"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$TMP/initramfs.gz" || die "cannot pack the initramfs"

# ---- the VM
mkdir -p "$TMP/out"
cmdline="console=ttyS0 quiet loglevel=3 panic=-1 vpnlab_guest=$REPO/scripts/netem-vm/guest.sh vpnlab_repo=$REPO vpnlab_specs=$SPECS"
[[ -n "$GREP" ]] && cmdline+=" vpnlab_grep=\"$GREP\""
# setpriv: qemu dies with this script even when the script is SIGKILLed (its trap cannot run then)
qemu=(setpriv --pdeathsig KILL qemu-system-x86_64 -nodefaults -no-reboot -display none -monitor none -serial stdio
  -m 1536 -smp 2 -nic none
  -kernel "$KERNEL" -initrd "$TMP/initramfs.gz" -append "$cmdline"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -virtfs "local,path=$TMP/out,mount_tag=out,security_model=none")
case "$ACCEL" in
  tcg) qemu+=(-accel tcg,thread=multi -cpu max) ;;
  kvm) qemu+=(-accel kvm -cpu "${VPNLAB_VM_CPU:-qemu64}") ;;
  *) die "VPNLAB_VM_ACCEL=$ACCEL: expected tcg or kvm" ;;
esac
say "booting $KERNEL ($ACCEL), specs $SPECS"
# the console (CRs dropped, line by line) to this terminal and to a log the summary is read from
"${qemu[@]}" </dev/null > >(sed -u 's/\r$//' | tee "$TMP/console.log") 2>"$TMP/qemu.err" &
QEMU_PID=$!

elapsed() { awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
wait_for() { # FILE SECONDS: 0 when FILE appears, 1 when the VM exits first, 2 on timeout
  local file=$1 limit=$2 t0=$SECONDS
  while ((SECONDS - t0 < limit)); do
    [[ -e "$file" ]] && return 0
    kill -0 "$QEMU_PID" 2>/dev/null || { [[ -e "$file" ]] && return 0; return 1; }
    sleep 0.2
  done
  return 2
}
wait_for "$TMP/out/booted" "$BOOT_TIMEOUT"
case $? in
  1) die "the VM exited before the guest booted (qemu: $(tr '\n' ' ' <"$TMP/qemu.err"))" ;;
  2) die "the guest did not boot within ${BOOT_TIMEOUT} s ($ACCEL); console above, qemu: $(tr '\n' ' ' <"$TMP/qemu.err")" ;;
esac
boot_s=$(elapsed)
wait_for "$TMP/out/rc" "$TEST_TIMEOUT"
case $? in
  1) die "the VM exited before the tests finished (mocha wrote no exit code; qemu: $(tr '\n' ' ' <"$TMP/qemu.err"))" ;;
  2) die "the tests did not finish within ${TEST_TIMEOUT} s" ;;
esac
rc=$(cat "$TMP/out/rc")
# the guest powers off after writing rc; give it a moment, then cleanup kills it
for _ in $(seq 1 50); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.2; done
wait "$QEMU_PID" 2>/dev/null
QEMU_PID=
sleep 0.2 # the tee behind the console

count() { grep -Eo "^ *[0-9]+ $1" "$TMP/console.log" | tail -1 | grep -Eo '[0-9]+' || echo 0; }
passing=$(count passing)
failing=$(count failing)
pending=$(count pending)
status=0
if [[ "$rc" != 0 ]]; then status=1; fi
if [[ "$pending" != 0 ]]; then say "$pending test(s) skipped inside the VM: the netem suite must run in full there"; status=1; fi
if [[ "$passing" == 0 ]]; then say "no test passed"; status=1; fi
say "boot ${boot_s} s, total $(elapsed) s, mocha exit code $rc"
say "${passing} passing, ${failing} failing, ${pending} pending"
exit "$status"
