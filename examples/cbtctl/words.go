package main

import (
	"regexp"
	"strings"
)

// The SDK's errors name its API (Options.ForceShare, DiskOptions.NewCheckpoint,
// Volume.ChangePoint), as a program calling it needs; the command line has
// its own words for the same things. cliWords rewrites the first into the
// second in every message the command prints (stderr, the JSON "error" and
// "noChangeId" members). A phrase comes before the words it holds.
var sdkWords = strings.NewReplacer(
	// qemu
	"set Options.ForceShare to", "pass --force-share to",
	"set Options.ForceShare", "pass --force-share",
	"Options.ForceShare", "--force-share",
	"qemu.OpenImage", "cbtctl qemu",
	"or set Options.TrustUnguarded if names are never reused", "or pass --trust-bare-name if names are never reused",
	"set Options.TrustUnguarded", "pass --trust-bare-name",
	"Options.TrustUnguarded", "--trust-bare-name",
	"or open it with a new bitmap", "or list with --next bitmap",
	"or use OpenNext, which makes a bitmap for this backup", "or list with --next bitmap, which makes one for this backup",
	"set NextOptions.QemuImg", "put qemu-img in PATH",
	"NextOptions.QemuImg", "PATH",
	// qemu/libvirt
	"open it with DiskOptions.NewCheckpoint (the backup job makes that checkpoint) or DiskOptions.At",
	"list it with --new-checkpoint NAME (the backup job makes that checkpoint, and the listing prints its change ID)",
	"DiskOptions.NewCheckpoint", "--new-checkpoint",
	"(DiskOptions.SocketDir, DirOwner)", "(the system's temporary directory, $TMPDIR)",
	"DiskOptions.SocketDir", "$TMPDIR",
	"DiskOptions.At", "a shut-off domain's checkpoint",
	// memcbt
	"take a change point (Volume.ChangePoint) and open the disk at it", `take a change point ("point NAME" in the script) and list --at it`,
	"Volume.ChangePoint", `a "point NAME" line in the script`,
	// rhv
	"open the disk at a snapshot's volume, or use OpenBackup (oVirt 4.4+ checkpoints)", "list at a snapshot's volume (--volume UUID: take a snapshot in RHV first)",
	"open the disk at a snapshot's volume", "list at a snapshot's volume (--volume UUID)",
	"VolumeOptions.Path or Dir is required", "--meta DIR or --lv-dir DIR is required",
	"set VolumeOptions.Path to find it", "give --meta DIR or --lv-dir DIR",
	"VolumeOptions.Path", "--meta or --lv-dir",
	// oci
	"Options.CompartmentID", "--compartment",
	"Options.AvailabilityDomain", "--availability-domain",
	"Options.InstanceID", "--instance",
	"(install open-iscsi, or give Options.Connector)", "(install open-iscsi)",
	"Options.MaxExtents", "the extent limit",
	// vsphere
	"or set Options.Relogin so that listings log in and resume by themselves", "and run the command again",
	// cbt
	"Changes with a zero since", "--full",
	"Changes with a zero ChangeID", "--full",
	"ChangesOptions.StartOffset", "--start",
	"ChangesOptions.Length", "--length",
	"StartOffset", "--start",
)

// sdkVocabulary matches what is left of the SDK's API in a message: a Go
// qualified identifier (Options.X, DiskOptions.X, Volume.ChangePoint), a
// call (ChangeID()) or a constructor (OpenBackup).
var sdkVocabulary = regexp.MustCompile(`\b[A-Z][A-Za-z0-9]*\.[A-Z][A-Za-z0-9]*\b|\b[A-Z]\w+\(\)|\bOpen[A-Z]\w*`)

// cliWords rewrites the SDK's words in msg into the command line's.
func cliWords(msg string) string {
	return sdkWords.Replace(msg)
}
