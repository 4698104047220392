package oci

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// Scheme is the scheme of this package's change IDs; the value is a backup
// OCID.
const Scheme = "oci"

// BackupKind says whether a backup is of a block volume or of a boot volume:
// the two have their own delta source types and their own volume calls.
type BackupKind int

const (
	// BlockVolumeBackup is a block volume backup (ocid1.volumebackup...).
	BlockVolumeBackup BackupKind = iota + 1
	// BootVolumeBackup is a boot volume backup (ocid1.bootvolumebackup...).
	BootVolumeBackup
)

func (k BackupKind) String() string {
	switch k {
	case BlockVolumeBackup:
		return "block volume backup"
	case BootVolumeBackup:
		return "boot volume backup"
	}
	return "unknown backup kind"
}

// maxOCIDLen bounds an OCID; real ones are under 120 bytes.
const maxOCIDLen = 255

// BackupKindOf returns the kind of backup an OCID names, from its resource
// type: "ocid1.volumebackup.<realm>..." or "ocid1.bootvolumebackup.<realm>...".
//
// Errors: cbt.ErrInvalidArgument when id is not a volume or boot volume
// backup OCID.
func BackupKindOf(id string) (BackupKind, error) {
	if id == "" {
		return 0, fmt.Errorf("%w: oci: empty backup OCID", cbt.ErrInvalidArgument)
	}
	if len(id) > maxOCIDLen {
		return 0, fmt.Errorf("%w: oci: backup OCID of %d bytes is too long", cbt.ErrInvalidArgument, len(id))
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return 0, fmt.Errorf("%w: oci: backup OCID %q holds a space or a non-ASCII byte", cbt.ErrInvalidArgument, id)
		}
	}
	parts := strings.SplitN(id, ".", 5)
	if len(parts) < 5 || parts[0] != "ocid1" || parts[2] == "" || parts[4] == "" {
		return 0, fmt.Errorf("%w: oci: %q is not an OCID (ocid1.<type>.<realm>.[region].<id>)", cbt.ErrInvalidArgument, id)
	}
	switch parts[1] {
	case "volumebackup":
		return BlockVolumeBackup, nil
	case "bootvolumebackup":
		return BootVolumeBackup, nil
	}
	return 0, fmt.Errorf("%w: oci: %q is a %s OCID, not a volume backup or boot volume backup OCID", cbt.ErrInvalidArgument, id, parts[1])
}

// checkPair validates the two backups of a delta: both present, distinct and
// of the same kind.
func checkPair(first, second string) (BackupKind, error) {
	if first == "" || second == "" {
		return 0, fmt.Errorf("%w: oci: a delta needs both backup OCIDs (first %q, second %q)", cbt.ErrInvalidArgument, first, second)
	}
	if first == second {
		return 0, fmt.Errorf("%w: oci: the first and second backups are the same (%s): there is no delta", cbt.ErrInvalidArgument, first)
	}
	k1, err := BackupKindOf(first)
	if err != nil {
		return 0, err
	}
	k2, err := BackupKindOf(second)
	if err != nil {
		return 0, err
	}
	if k1 != k2 {
		return 0, fmt.Errorf("%w: oci: the first backup is a %s and the second a %s", cbt.ErrInvalidArgument, k1, k2)
	}
	return k1, nil
}

// ChangeBlockSize limits, from the CreateVolume documentation of
// changeBlockSizeInBytes.
const (
	MinChangeBlockSize     = 4096
	MaxChangeBlockSize     = 1 << 20
	DefaultChangeBlockSize = MinChangeBlockSize
)

// checkBlockSize validates a change block size: a power of two from 4096 to
// 1048576 bytes.
func checkBlockSize(n int64) error {
	if n < MinChangeBlockSize || n > MaxChangeBlockSize || n&(n-1) != 0 {
		return fmt.Errorf("%w: oci: change block size %d: want a power of two from %d to %d bytes",
			cbt.ErrInvalidArgument, n, MinChangeBlockSize, MaxChangeBlockSize)
	}
	return nil
}
