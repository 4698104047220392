// Cbtctl lists the areas of a virtual disk that changed between two points
// in time, through the changedblocks SDK (package cbt): one subcommand per
// platform, each with the same changes command, output and exit statuses.
//
// Usage:
//
//	cbtctl <platform> changes (--since CHANGEID | --full) [flags]
//	                                     list what changed on a disk (every platform)
//	cbtctl mem demo [flags]              walk through full and incremental backups in memory
//	cbtctl mem changes --script FILE (--since NAME|CHANGEID | --full) [flags]
//	cbtctl qemu info|snapshots|bitmaps IMAGE [--format text|json] [--force-share]
//	cbtctl qemu changes IMAGE (--since POINT|CHANGEID | --full) [--at POINT]
//	                    [--force-share] [flags]
//	cbtctl vsphere changes --url URL --vm VM [--snapshot NAME] [--disk KEY|LABEL]
//	                       (--since CHANGEID | --full) [--insecure] [flags]
//	cbtctl libvirt checkpoints DOMAIN [--connect URI] [--format text|json]
//	cbtctl libvirt checkpoint DOMAIN NAME [--connect URI]
//	cbtctl libvirt changes DOMAIN --disk TARGET (--since CHANGEID | --full)
//	                       [--new-checkpoint NAME] [--connect URI] [flags]
//	cbtctl rhv chain [--engine FILE] [--rest FILE] [--dump FILE] [--lvs FILE]
//	                 [--meta DIR] [--image UUID] [--format text|json]
//	cbtctl rhv changes (--meta DIR | --lvs FILE) [--volume UUID]
//	                   (--since VOLUME|CHANGEID | --full) [flags]
//	cbtctl oci changes --second OCID (--first OCID | --full) --compartment OCID
//	                   --availability-domain AD --instance OCID [--block-size N] [flags]
//	cbtctl scsi lba-status DEVICE [--form auto|32|16] [flags]
//	cbtctl version                       print the version
//	cbtctl help [command...]             print the usage of a command
//
// Platforms:
//
//	mem      an in-memory volume (package cbt/memcbt): a demo and scripted volumes
//	qemu     qcow2 images offline (package qemu): internal snapshots, persistent
//	         dirty bitmaps, backing chains; a POINT is active, snapshot:NAME_OR_ID,
//	         bitmap:NAME (--since only) or layer:PATH
//	vsphere  VMware vSphere VM disks (package vsphere): QueryChangedDiskAreas at
//	         a snapshot (--snapshot, or a temporary one); credentials in the URL
//	         or GOVC_USERNAME, GOVC_PASSWORD
//	libvirt  running qemu/KVM guests (package qemu/libvirt): checkpoints and
//	         pull-mode backup jobs; shut-off domains through their qcow2 bitmaps
//	rhv      RHV / oVirt disks (package rhv): volume chains read from the engine,
//	         LV tags, .meta files or vdsm-tool dumps, validated; the changes of
//	         the COW layers above a snapshot's volume
//	oci      OCI block volumes (package oci): the blocks changed between two
//	         volume backups, from a backup-delta volume scanned and deleted
//	scsi     a SCSI block device already attached (GET LBA STATUS over SG_IO)
//
// Flags of every changes command (one of --since and --full is required):
//
//	--since CHANGEID     list what changed since this change ID, printed by an
//	                     earlier listing: an incremental backup
//	--full               list everything allocated: a full backup
//	--format text|json   text: aligned columns (offset, length, description) and
//	                     a summary line starting with "#"; json: one object,
//	                     {"capacity":N,"granularity":N,"changeId":"scheme:value",
//	                     "extents":[{"offset":N,"length":N},...]}
//	--progress           a progress bar on stderr (default: when stderr is a
//	                     terminal and stdout is not)
//	--start OFFSET       list from OFFSET on (to resume: the offset an error
//	                     message names)
//	--length BYTES       list only BYTES from --start
//	--align BLOCK        widen extents to whole blocks of BLOCK bytes
//	--gap BYTES          merge extents separated by at most BYTES unchanged bytes
//
// Sizes are bytes, with an optional binary unit: K, M, G, T, P or E, each
// optionally followed by iB or B (4096, 64K, 64KiB, 1M, 2G; 1K = 1024).
//
// Store the change ID a successful listing prints (text: the summary line;
// json: "changeId"), and pass it with --since to the next incremental. A
// listing whose point names none (a disk still written, such as a qcow2
// image's active state) or that covers part of the disk (--start, --length)
// prints none: text says "# no change ID to store: WHY" on its last line,
// json has "changeId":null and "noChangeId":"WHY". "granularity" is that of
// what was listed: a qcow2 bitmap's when listing since one. When a json
// listing fails after it started, the object is closed all the same, with an
// "error" member: its extents are correct, its changeId must not be stored.
// When writing the output fails, the message names the offset up to which the
// output is known to be complete: resume with --start there.
//
// Exit status:
//
//	0    success
//	1    any other error, including arguments the platform refuses once it
//	     reads the disk (a --since later than --at, say); stderr says what
//	     to do next
//	2    usage error: one line naming the flag and what it takes, then the
//	     command that prints the usage
//	3    full backup required: the --since change ID is stale or tracking was
//	     reset; run again with --full and store the printed change ID
//	130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the command cleaned
//	     up (temporary snapshots, volumes, jobs), or, when it did not within
//	     seconds or at a second signal, says on stderr what may be left behind
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
//	cbtctl <platform> changes ... --full --format json > full.json
//	id=$(jq -r '.changeId // empty' full.json)   # null: nothing to store (noChangeId says why)
//	cbtctl <platform> changes ... --since "$id" --format json > incr.json
//	case $? in 3) echo "take a full backup: --full" ;; esac
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
//	# 1 extent, 65536 bytes changed (64 KiB, 0.01% of 1 GiB, in 64 KiB granules); change ID to store: mem:v1.1/2
//
// qcow2 images offline, with qemu-img making the points in time (cbtctl only
// reads the image, never writes it):
//
//	qemu-img snapshot -c full vm.qcow2            # the point of the full backup
//	cbtctl qemu changes vm.qcow2 --full --at snapshot:full --format json > full.json
//	... the guest writes; then, with the VM shut down:
//	qemu-img snapshot -c incr1 vm.qcow2
//	cbtctl qemu changes vm.qcow2 --since "$(jq -r .changeId full.json)" --at snapshot:incr1
//	cbtctl qemu changes vm.qcow2 --since bitmap:b0           # what bitmap b0 recorded (no change ID to store)
//	cbtctl qemu changes overlay.qcow2 --since layer:base.qcow2 # what the overlay holds
//	cbtctl qemu snapshots vm.qcow2                # the table, then each snapshot's change ID
//	cbtctl qemu bitmaps vm.qcow2 --format json
//
// # The qemu platform
//
// "cbtctl qemu changes" lists, at the point --at (default active), what
// changed since --since: since a snapshot, the clusters whose mapping
// differs; since a bitmap, the areas it recorded (and "granularity" is the
// bitmap's); since a layer, what the layers above it allocate; with --full,
// every area allocated down the backing chain. The active state names no
// point to store (it is still written): a listing at it prints no change ID
// and says why; make a snapshot for the backup and list --at it. Its exit status is 3 when the --since snapshot is gone or the
// bitmap cannot serve as a base (in use: qemu crashed or still runs; disabled;
// inconsistent). An image a running qemu holds is an error (status 1) unless
// --force-share, which reads its snapshots only: a listing at or since the
// active state or a bitmap of such an image is still an error, since qemu
// keeps those in memory and the file lags behind.
//
// "cbtctl qemu info", "snapshots" and "bitmaps" print text as qemu-img does
// (the snapshot table as "qemu-img snapshot -l", the header lines as
// "qemu-img info"; "snapshots" adds each snapshot's change ID after the
// table), or with --format json one line of JSON:
//
//	info: {"path","format","version","compat","virtualSize","clusterSize",
//	       "extendedL2","lazyRefcounts","dirty","compression","encryption",
//	       "refcountBits","backingFile","backingFormat","dataFile",
//	       "bitmapsConsistent","chain":[LAYER...],"snapshots":[SNAPSHOT...],
//	       "bitmaps":[BITMAP...]}
//	LAYER: {"path","name","format","virtualSize","depth"}   (the image first, depth 0)
//	snapshots: [SNAPSHOT...]
//	SNAPSHOT: {"id","name","date","vmClockNsec","vmStateSize","diskSize","icount","changeId"}
//	bitmaps: [BITMAP...]
//	BITMAP: {"name","granularity","flags":["in-use","auto"],"inUse","enabled",
//	         "usable","reason","changeId"}
//
// Sizes are bytes; "date" is RFC 3339 in UTC with nanoseconds; "icount" is -1
// when the snapshot has none; "changeId" is the change ID naming the snapshot
// or bitmap, to pass with --since; "usable" says whether a listing can start
// from the bitmap, and "reason" why not. Absent strings are "", empty lists [].
// The tables are printed entry by entry as they are read, never held whole:
// memory stays under 80 MiB whatever the image. An error in the middle of a
// table ends the output after the entries before it (the JSON unterminated)
// and goes to stderr, with its exit status.
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
// The description column reads "allocated" for a listing with --full
// (everything a full backup copies), "changed" otherwise. The summary line
// gives the granularity of what was listed; a listing that names no change ID
// ends with a line "# no change ID to store: WHY". When writing the output
// fails (a full disk, a closed pipe), the extents complete in it up to the
// offset the message names are correct: drop a cut line or record after
// them, and resume with --start at that offset. Only an offset known written
// (accepted by the file or pipe) is named, never one still buffered.
//
// # Signals
//
// The first SIGINT (Ctrl-C) or SIGTERM cancels the command: it stops
// listing, removes what it made (a temporary vSphere snapshot, an OCI delta
// volume, a libvirt backup job and the checkpoint it was making) and exits
// with 130 (SIGINT) or 143 (SIGTERM). A command that has not ended 5
// seconds after the signal (30 while it removes something outside), or a
// second signal, ends the program at once, with a message naming what may be
// left behind.
//
// # Adding a platform
//
// A platform adds a group to topCommands with a changes command that parses
// its own flags (how to reach the disk, --since) next to the shared ones
// (changesFlags.register, registerBase for --since and --full, checkBase),
// opens a *cbt.Disk, and returns runChanges: the
// output, progress bar, error messages and exit statuses are then the same as
// everywhere. Advice particular to the platform (what a busy qcow2 image
// means, say) goes in changesFlags.hint and reportErrorHint.
package main
