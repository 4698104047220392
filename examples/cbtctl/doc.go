// Cbtctl lists the areas of a virtual disk that changed between two points
// in time, through the changedblocks SDK (package cbt): one subcommand per
// platform, each with the same changes command, output and exit statuses.
//
// Usage:
//
//	cbtctl <platform> changes [flags]    list what changed on a disk (every platform)
//	cbtctl mem demo [flags]              walk through full and incremental backups in memory
//	cbtctl mem changes --script FILE [--since NAME|CHANGEID] [flags]
//	cbtctl version                       print the version
//	cbtctl help [command...]             print the usage of a command
//
// Platforms:
//
//	mem      an in-memory volume (package cbt/memcbt): a demo and scripted volumes
//	         (qemu, vsphere, rhv and oci come with their platform packages)
//
// Flags of every changes command:
//
//	--since CHANGEID     list what changed since this change ID, printed by an
//	                     earlier listing; without it, list everything allocated
//	                     (what a full backup copies)
//	--format text|json   text: aligned columns (offset, length, description) and
//	                     a summary line starting with "#"; json: one object,
//	                     {"capacity":N,"granularity":N,"changeId":"scheme:value",
//	                     "extents":[{"offset":N,"length":N},...]}
//	--progress           a progress bar on stderr (default: when stderr is a
//	                     terminal and stdout is not)
//	--start OFFSET       list from OFFSET on (to resume: the end of the last extent)
//	--length BYTES       list only BYTES from --start
//	--align BLOCK        widen extents to whole blocks of BLOCK bytes
//	--gap BYTES          merge extents separated by at most BYTES unchanged bytes
//
// Sizes take binary units: 4096, 64K, 1M, 2G. Store the change ID a successful
// listing prints (text: the summary line; json: "changeId"), and pass it with
// --since to the next incremental. When a json listing fails after it started,
// the object is closed all the same, with an "error" member: its extents are
// correct, its changeId must not be stored.
//
// Exit status:
//
//	0  success
//	1  any other error; stderr says what to do next
//	2  usage error
//	3  full backup required: the --since change ID is stale or tracking was
//	   reset; run again without --since and store the printed change ID
//
// # Examples
//
// The walk-through on the in-memory platform, which runs anywhere:
//
//	go run ./examples/cbtctl mem demo
//	go run ./examples/cbtctl mem demo --seed 7 --format json
//
// A full backup, then an incremental since the change ID it printed, with a
// platform's changes command:
//
//	cbtctl <platform> changes ... --format json > full.json
//	cbtctl <platform> changes ... --since "$(jq -r .changeId full.json)" > incr.json
//	case $? in 3) echo "take a full backup" ;; esac
//
// A scripted in-memory volume, the script in vol.txt:
//
//	write 0 64K
//	point full
//	write 1M 4K
//	point incr
//
//	cbtctl mem changes --script vol.txt --since full
//	   1048576       65536    changed
//	# 1 extent, 65536 bytes changed (64 KiB, 0.01% of 1 GiB); change ID to store: mem:v1.1/2
//
// # Output
//
// Text output streams one line an extent, then a summary line starting with
// "#": on success the number of extents, the bytes listed, their share of the
// capacity and the change ID to store; after an error, "# incomplete", and the
// error with what to do next goes to stderr. JSON output is one object on one
// line, streamed as the listing goes; after an error it still closes, with an
// "error" member. A command that fails before the listing starts (a usage
// error, a disk that cannot be opened) writes nothing to stdout. The progress
// bar is drawn on stderr only, never on stdout.
// The description column reads "allocated" for a listing without --since
// (everything a full backup copies), "changed" otherwise.
//
// # Adding a platform
//
// A platform adds a group to topCommands with a changes command that parses
// its own flags (how to reach the disk, --since) next to the shared ones
// (changesFlags.register), opens a *cbt.Disk, and returns runChanges: the
// output, progress bar, error messages and exit statuses are then the same as
// everywhere.
package main
