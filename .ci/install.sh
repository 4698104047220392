#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those missing, so that a
# machine that has them already spends no time here. Run as root.
set -euo pipefail

# One package a line; the comment says which tests need it.
packages=(
	make        # the test entry point
	git         # go's VCS stamping and the duplicates check
	gcc         # go test -race needs cgo
	libc6-dev
	qemu-utils  # qemu-img, qemu-io, qemu-nbd: ground truth for qcow2 tests
	libnbd-bin  # nbdinfo --map: the peer tool for allocation maps
	nbdkit      # exports test images for nbdinfo
	qemu-system-x86            # live guests (TCG) for the libvirt tests
	libvirt-daemon             # libvirtd, virtlogd: started by .ci/libvirtd.sh
	libvirt-daemon-driver-qemu
	libvirt-clients            # virsh: the daemon check in .ci/libvirtd.sh
	libvirt-dev                # headers for the default cgo build of qemu/libvirt
	pkg-config                 # finds libvirt for that build
	tini                       # reaps the qemu processes libvirtd orphans (.ci/libvirtd.sh)
	tgt                        # tgtd: a real iSCSI target for internal/scsi
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "all ${#packages[@]} packages present"
	exit 0
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
