#!/usr/bin/env bash
# Starts a private libvirtd (with virtlogd) for the live qemu tests, on a
# fresh Debian 12 machine without systemd, as root. Idempotent: a daemon that
# already answers is left as it is. Guests run under TCG (no KVM needed).
#
# What a bare machine lacks, and this script makes:
#   - the accounts libvirt's qemu driver looks up at start ("Failed to parse
#     user 'libvirt-qemu'" otherwise): groups kvm, libvirt-qemu, swtpm; users
#     libvirt-qemu (in kvm) and swtpm;
#   - a qemu.conf that runs qemu as root with no relabelling, so test images
#     in temporary directories need no ownership changes;
#   - virtlogd, without which starting a domain fails with "Failed to connect
#     socket to '/run/libvirt/virtlogd-sock'".
# Logs go to /var/log/cbt-libvirtd/ (kept for CI's post-mortem).
set -euo pipefail

if virsh -c qemu:///system version >/dev/null 2>&1; then
	echo "libvirtd: already running"
	exit 0
fi

for g in kvm libvirt-qemu swtpm libvirt; do
	getent group "$g" >/dev/null || groupadd --system "$g"
done
getent passwd libvirt-qemu >/dev/null ||
	useradd --system --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin \
		--gid libvirt-qemu --groups kvm libvirt-qemu
getent passwd swtpm >/dev/null ||
	useradd --system --no-create-home --home-dir /var/lib/swtpm --shell /usr/sbin/nologin \
		--gid swtpm swtpm

conf=/etc/libvirt/qemu.conf
if ! grep -q '^# cbt-ci v2' "$conf" 2>/dev/null; then
	sed -i '/^# cbt-ci/,$d' "$conf" 2>/dev/null || true
	mkdir -p /etc/libvirt
	cat >>"$conf" <<'EOF'
# cbt-ci v2: qemu runs as root without relabelling (test machine only)
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
EOF
fi

logdir=/var/log/cbt-libvirtd
mkdir -p /var/log/libvirt /run/libvirt /var/lib/libvirt/qemu "$logdir"

pgrep -x virtlogd >/dev/null || setsid virtlogd >"$logdir/virtlogd.log" 2>&1 </dev/null &
# libvirtd daemonizes qemu (a double fork): on a machine whose PID 1 does not
# reap orphans, each qemu that exits stays a zombie, and libvirtd, polling for
# it, takes ~1.8 s to notice (seen here on every domain stop). tini -s runs
# libvirtd as a child subreaper that reaps them at once.
setsid tini -s -- libvirtd >"$logdir/libvirtd.log" 2>&1 </dev/null &

for _ in $(seq 1 100); do
	if virsh -c qemu:///system version >/dev/null 2>&1; then
		echo "libvirtd: started ($(virsh -c qemu:///system version | sed -n 's/^Running hypervisor: //p'))"
		exit 0
	fi
	sleep 0.2
done
echo "libvirtd: did not answer within 20 s; its log:" >&2
tail -n 50 "$logdir/libvirtd.log" >&2 || true
exit 1
