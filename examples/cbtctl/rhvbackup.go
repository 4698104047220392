package main

import (
	"context"
	"io"
)

// rhvBackupCommand is "cbtctl rhv backup".
func rhvBackupCommand() command {
	return command{name: "backup", synopsis: "write a full or incremental backup of a volume of a disk's chain into a qcow2 file", run: runRHVBackup}
}

const rhvBackupAbout = `Writes a backup of an RHV / oVirt disk at a volume of its chain, read
offline on a host that sees the storage domain (the chain flags are those
of "cbtctl rhv changes"), into a new qcow2 file --out that qemu-img
restores: with --full, a standalone file of everything allocated down the
chain; with --since CHANGEID, an overlay of what changed since that volume,
whose backing file is --backing, the previous backup (its manifest,
--backing's path + ".json", must say it holds that point). A manifest
FILE.json is written beside --out; it and the output print the change ID to
store. Back up at an internal volume (--volume: one a snapshot made): the
leaf of a running VM is written, and names no point to store.

Exit status 3 (full backup required): as for "cbtctl rhv changes".`

func runRHVBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl rhv backup",
		"cbtctl rhv backup (--meta DIR | --lvs FILE [...]) [--image UUID] --volume UUID (--since CHANGEID --backing PREV.qcow2 | --full) --out FILE.qcow2 [flags]",
		rhvBackupAbout)
	var o rhvChangesFlags
	o.register(fs, "back up")
	var b backupFlags
	b.register(fs)
	var f changesFlags
	f.registerOutput(fs)
	f.registerBase(fs, "back up what changed since `CHANGEID` (a change ID rhv:volume:... a backup printed)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	for _, msg := range []string{o.check(), f.checkBase("CHANGEID (a change ID rhv:volume:... a backup printed)"), b.check(f)} {
		if msg != "" {
			return usageError(fs, stderr, "%s", msg)
		}
	}
	since, disk, code, ok := rhvOpenAt(ctx, fs, stderr, &o, f)
	if !ok {
		return code
	}
	defer disk.Close()
	return runBackup(ctx, stdout, stderr, fs.Name(), disk, since, &b, f, rhvChangesHint)
}
