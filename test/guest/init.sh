#!/bin/sh
# pid 1 of the user-mode-linux guest that test/guest/guest.ts boots (HOST.md has the recipe).
# The guest's root is the host's, through hostfs; anything written there is written on the
# host as the user who runs linux.uml, so what tests write goes to tmpfs instead.
#
# It sets the guest up as a systemd host with Delegate=yes would be: cgroup v2 only, with
# cpu, memory, pids and io handed down to a subtree that belongs to the test user, and that
# user's job running in a leaf of it (an unprivileged process may not cross into it). Then
# it runs, as that user, GUEST_DIR/run.sh from the leaf and GUEST_DIR/flat.sh (if any) from
# the root of a second delegated subtree with no leaf (hutch must move itself out first),
# and GUEST_DIR/undelegated.sh (if any) from a cgroup that is not the user's (a host without
# delegation), leaves their output and status in GUEST_DIR, and powers off.
#
# From the kernel command line (unknown NAME=VALUE parameters become init's environment):
# HUTCH_GUEST_DIR, HUTCH_GUEST_REPO (the checkout), HUTCH_GUEST_UID, HUTCH_GUEST_GID,
# HUTCH_GUEST_HOME, HUTCH_GUEST_CI.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
uid=${HUTCH_GUEST_UID:?}
gid=${HUTCH_GUEST_GID:?}
dir=${HUTCH_GUEST_DIR:?}

say() { echo "guest-init: $*" >&2; }
power_off() {
  sync
  echo o > /proc/sysrq-trigger
  sleep 60
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
# GUEST_DIR lives under the host's /tmp: reach it before a tmpfs covers /tmp.
mkdir -p /run/guest /run/repo
mount --bind "$dir" /run/guest || { say "cannot bind $dir"; power_off; }
exec 2>> /run/guest/init.log
mount --bind "${HUTCH_GUEST_REPO:?}" /run/repo
mount -t tmpfs -o mode=1777 tmpfs /tmp
# A checkout under /tmp stays where the jobs expect it.
if [ ! -d "$HUTCH_GUEST_REPO" ]; then
  mkdir -p "$HUTCH_GUEST_REPO" && mount --bind /run/repo "$HUTCH_GUEST_REPO"
fi
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || say 'no cgroup2'

# What hutch's rootfs and network drivers load on a normal host.
modules=/usr/lib/uml/modules/$(uname -r)/kernel
for module in fs/overlayfs/overlay.ko fs/fuse/fuse.ko drivers/net/tun.ko; do
  insmod "$modules/$module" || say "insmod $module failed"
done
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; }
# As scripts/test provisions the host: distributions ship these 0666.
chmod 666 /dev/net/tun /dev/fuse 2>/dev/null
# The scratch disk (ubd0=), for the block I/O limits: readable by the user.
[ -b /dev/ubda ] && chmod 644 /dev/ubda

# Delegation as systemd's Delegate=yes does it: the directory and the files that move
# processes and hand controllers on belong to the user.
echo '+cpu +memory +pids +io' > /sys/fs/cgroup/cgroup.subtree_control || say 'cannot enable controllers'
delegate() {
  mkdir -p "$1" &&
    chown "$uid:$gid" "$1" "$1/cgroup.procs" "$1/cgroup.subtree_control" "$1/cgroup.threads"
}
slice=/sys/fs/cgroup/hutch-test-$uid.slice
flat=/sys/fs/cgroup/hutch-flat-$uid.slice
delegate "$slice" && delegate "$slice/tests.scope" && delegate "$flat"
# Left to root, as on a host whose systemd does not delegate.
undelegated=/sys/fs/cgroup/hutch-none-$uid.slice
mkdir -p "$undelegated"

runtime=/run/user/$uid
mkdir -p "$runtime" && chown "$uid:$gid" "$runtime" && chmod 700 "$runtime"

# run JOB CGROUP: the job's shell moves itself into CGROUP while still root, then becomes the user.
run() {
  [ -f "/run/guest/$1.sh" ] || return 0
  sh -c 'echo $$ > "$1/cgroup.procs" && exec setpriv --reuid="$2" --regid="$3" --init-groups \
      env -i PATH="$PATH" HOME="$4" USER="$5" LOGNAME="$5" XDG_RUNTIME_DIR="$6" TMPDIR=/tmp CI="$7" \
      sh "/run/guest/$8.sh"' \
    job "$2" "$uid" "$gid" "${HUTCH_GUEST_HOME:-/}" "$(id -un "$uid")" "$runtime" "${HUTCH_GUEST_CI:-}" "$1" \
    > "/run/guest/$1.out" 2> "/run/guest/$1.err" < /dev/null
  echo $? > "/run/guest/$1.status"
}
run run "$slice/tests.scope"
run flat "$flat"
run undelegated "$undelegated"
power_off
