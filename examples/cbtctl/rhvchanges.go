package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/rhv"
)

// rhvChangesCommand is "cbtctl rhv changes".
func rhvChangesCommand() command {
	return command{name: "changes", synopsis: "list what the COW layers of a disk's volume chain changed, offline", run: runRHVChanges}
}

const rhvChangesAbout = `Lists what changed on an RHV / oVirt disk between two volumes of its chain,
reading the volumes' qcow2 tables offline on a host that sees the storage
domain: at --volume (default: the leaf), since the volume --since, or, with
--full, every area allocated down the chain: what a full backup copies.
What changed since a volume is what the COW layers above it, up to --volume,
allocated (zero clusters included); a RAW base counts as allocated all over.

The chain comes from the storage:
  --meta DIR      a file domain: its images/IMAGE directory, or its images
                  directory (with --image); the volumes are the files
                  images/IMAGE/VOLUME beside their .meta files
  --lvs FILE      a block domain: lvs output with vdsm's tags ("-" for stdin);
                  with --metadata FILE (the domain's "metadata" LV, or a copy)
                  and --domain-version 4|5 each volume's record is read too;
                  the volumes are read from --lv-dir DIR (default
                  /dev/DOMAIN, where an activated domain's LVs appear)
--image UUID picks the disk when the source holds more than one.

--since takes a change ID rhv:volume:... that a listing printed. The change
ID a listing at an internal volume prints names the volume, its child and a
guard of the volumes from the base up to it; store it: when a snapshot
deletion later merges that child into the volume, removes the volume or
merges a volume below it, or a volume up to it is written, replaced or
restored from an older copy, the next listing since it exits with status 3
(full backup required). A bare volume UUID (or a change ID without the
guard) cannot prove any of that and exits with status 3 too. A listing at
the leaf prints no change ID: the VM still writes to it; take a snapshot in
RHV first, and list at the volume that became internal.

The volumes are only read, never written. Each qcow2 volume's backing file
must be the parent the metadata names (exit status 1 otherwise). The leaf of
a running VM is locked by qemu: list at an internal volume.

Exit status 3 (full backup required): the --since volume was merged away,
merged into, or is the leaf; the volumes up to it changed; or --since
carries no guard.`

// rhvChangesFlags are the flags of "cbtctl rhv changes" that find the chain.
type rhvChangesFlags struct {
	meta, lvs, metadata, lvDir, image, volume string
	domainVersion                             int
}

func runRHVChanges(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl rhv changes",
		"cbtctl rhv changes (--meta DIR | --lvs FILE [--metadata FILE --domain-version 4|5] [--lv-dir DIR])\n\t                   [--image UUID] [--volume UUID] (--since VOLUME|CHANGEID | --full) [flags]",
		rhvChangesAbout)
	var o rhvChangesFlags
	o.register(fs, "list")
	var f changesFlags
	f.register(fs)
	f.registerBase(fs, "list what changed since the volume `VOLUME`, or since a change ID rhv:volume:... a listing printed")
	f.hint = rhvChangesHint
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	if msg := o.check(); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	if msg := f.checkBase("VOLUME|CHANGEID (a volume UUID, or a change ID rhv:volume:... a listing printed)"); msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	since, disk, code, ok := rhvOpenAt(ctx, fs, stderr, &o, f)
	if !ok {
		return code
	}
	defer disk.Close()
	f.noID = func(err error) string {
		if strings.Contains(err.Error(), "leaf") {
			return "the leaf volume of the chain is still written, so it names no point to store: take a snapshot in RHV, and list at the volume that became internal (--volume UUID)"
		}
		return ""
	}
	return runChanges(ctx, stdout, stderr, disk, since, f)
}

// rhvOpenAt reads --since and opens the disk at --volume: what "rhv
// changes" and "rhv backup" do once their flags are checked. It returns the
// exit status to end with when ok is false.
func rhvOpenAt(ctx context.Context, fs *flag.FlagSet, stderr io.Writer, o *rhvChangesFlags, f changesFlags) (cbt.ChangeID, *cbt.Disk, int, bool) {
	var since cbt.ChangeID
	if f.since.set {
		id, err := rhvSinceID(f.since.s)
		if err != nil {
			return since, nil, usageError(fs, stderr, "--since %q: %v", f.since.s, err), false
		}
		since = id
	}
	disk, err := o.open(ctx, stderr)
	if err != nil {
		return since, nil, reportErrorHint(ctx, stderr, fs.Name(), err, "", rhvChangesHint), false
	}
	return since, disk, exitOK, true
}

// register registers the flags that find the chain and the volume; what
// says what the command does at the volume ("list", "back up").
func (o *rhvChangesFlags) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&o.meta, "meta", "", "a file domain's image directory, or its images directory, `DIR`")
	fs.StringVar(&o.lvs, "lvs", "", "a block domain's lvs output in `FILE` (- for stdin)")
	fs.StringVar(&o.metadata, "metadata", "", "the block domain's metadata LV, or a copy of it, `FILE` (with --lvs)")
	fs.IntVar(&o.domainVersion, "domain-version", 0, "the block domain's `VERSION`, 4 or 5 (with --metadata)")
	fs.StringVar(&o.lvDir, "lv-dir", "", "the `DIR`ectory holding the block domain's LVs by volume UUID (default /dev/DOMAIN)")
	fs.StringVar(&o.image, "image", "", "the disk (image) `UUID`, when the source holds more than one")
	fs.StringVar(&o.volume, "volume", "", what+" at the volume `UUID` (default: the leaf)")
}

// check returns the usage error of the chain flags, or "".
func (o *rhvChangesFlags) check() string {
	switch {
	case (o.meta == "") == (o.lvs == ""):
		return "give the chain's storage: --meta DIR (a file domain) or --lvs FILE (a block domain)"
	case o.meta != "" && (o.metadata != "" || o.lvDir != "" || o.domainVersion != 0):
		return "--metadata, --domain-version and --lv-dir are for --lvs"
	case o.metadata != "" && o.domainVersion != 4 && o.domainVersion != 5:
		return "--metadata needs --domain-version 4 or 5 (the storage domain's format version: V5 since oVirt 4.3)"
	case o.metadata == "" && o.domainVersion != 0:
		return "--domain-version is for --metadata"
	}
	return ""
}

// open reads the chain and opens the disk at --volume.
func (o *rhvChangesFlags) open(ctx context.Context, stderr io.Writer) (*cbt.Disk, error) {
	for _, a := range []struct {
		flag, path string
		allow      hostfile.Kind
	}{{"--meta", o.meta, hostfile.Directory}, {"--lv-dir", o.lvDir, hostfile.Directory}} {
		if a.path == "" {
			continue
		}
		if err := checkArg(a.path, a.allow); err != nil {
			return nil, fmt.Errorf("%s: %w", a.flag, err)
		}
	}
	chain, opts, err := rhvOpenChain(ctx, o, stderr)
	if err != nil {
		return nil, err
	}
	return rhv.OpenVolume(chain, o.volume, opts)
}

// rhvSinceID reads --since: a change ID "rhv:volume:...", its value
// "volume:...", or a bare volume UUID.
func rhvSinceID(s string) (cbt.ChangeID, error) {
	if !strings.Contains(s, ":") {
		return rhv.VolumeChangeID(s)
	}
	if id, err := cbt.ParseChangeID(s); err == nil && id.Scheme() == rhv.Scheme {
		return id, nil
	}
	p, err := rhv.ParseVolumePoint(s)
	if err != nil {
		return cbt.ChangeID{}, fmt.Errorf("want a volume UUID or a change ID rhv:volume:... that a listing printed")
	}
	return p.ChangeID()
}

// rhvOpenChain reads the chain the flags name and says where its volumes
// are. Findings about the chain go to stderr as warnings; a broken chain is
// refused by OpenVolume.
func rhvOpenChain(ctx context.Context, o *rhvChangesFlags, stderr io.Writer) (*rhv.Chain, *rhv.VolumeOptions, error) {
	var vols []rhv.Volume
	var err error
	opts := &rhv.VolumeOptions{}
	if o.meta != "" {
		vols, err = rhv.ReadMetaDir(o.meta)
		imagesDir := o.meta
		if m, _ := filepath.Glob(filepath.Join(o.meta, "*.meta")); len(m) > 0 {
			imagesDir = filepath.Dir(filepath.Clean(o.meta)) // an image directory
		}
		opts.Path = rhv.ImagesPath(imagesDir)
	} else {
		vols, err = rhvReadLVs(o)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	image, err := rhvPickImage(vols, o.image)
	if err != nil {
		return nil, nil, err
	}
	chain, findings := rhv.BuildChain(image, vols)
	for _, f := range findings {
		fmt.Fprintf(stderr, "warning: %s\n", f)
	}
	if o.lvs != "" {
		dir := o.lvDir
		if dir == "" {
			if leaf, ok := chain.Leaf(); ok && leaf.Extra["DOMAIN"] != "" {
				dir = filepath.Join("/dev", leaf.Extra["DOMAIN"])
			} else {
				return nil, nil, fmt.Errorf("%w: rhv: the lvs output names no volume group for image %s; give --lv-dir", cbt.ErrInvalidArgument, image)
			}
		}
		opts.Path = rhv.DirPath(dir)
	}
	return &chain, opts, nil
}

// rhvReadLVs reads --lvs and, with --metadata, the volumes' records.
func rhvReadLVs(o *rhvChangesFlags) ([]rhv.Volume, error) {
	var r io.Reader = os.Stdin
	if o.lvs != "-" {
		fh, _, _, err := hostfile.Open(o.lvs, hostfile.Regular)
		if err != nil {
			return nil, rhvFileError(err, "--lvs "+o.lvs)
		}
		defer fh.Close()
		r = fh
	}
	vols, err := rhv.ReadLVs(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.lvs, err)
	}
	if o.metadata == "" {
		return vols, nil
	}
	md, _, _, err := hostfile.Open(o.metadata, hostfile.Regular|hostfile.BlockDevice)
	if err != nil {
		return nil, rhvFileError(err, "--metadata "+o.metadata)
	}
	defer md.Close()
	vols, err = rhv.ReadMetadataSlots(md, o.domainVersion, vols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.metadata, err)
	}
	return vols, nil
}

// rhvFileError classifies an error opening an input file.
func rhvFileError(err error, path string) error {
	var ke *hostfile.KindError
	if errors.As(err, &ke) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: %s: %w", cbt.ErrNotFound, path, err)
	}
	return fmt.Errorf("%w: %s: %w", cbt.ErrUnsupported, path, err)
}

// rhvPickImage returns the image to list: the one given, else the only one
// the volumes belong to.
func rhvPickImage(vols []rhv.Volume, image string) (string, error) {
	seen := map[string]bool{}
	for _, v := range vols {
		if !v.Removed {
			seen[v.Image] = true
		}
	}
	if image != "" {
		if !seen[image] {
			return "", fmt.Errorf("%w: rhv: the source holds no volume of image %s", cbt.ErrNotFound, image)
		}
		return image, nil
	}
	var images []string
	for img := range seen {
		images = append(images, img)
	}
	sort.Strings(images)
	switch len(images) {
	case 0:
		return "", fmt.Errorf("%w: rhv: the source holds no volume", cbt.ErrNotFound)
	case 1:
		return images[0], nil
	}
	return "", fmt.Errorf("%w: rhv: the source holds the volumes of %d images (%s); pick the disk with --image", cbt.ErrInvalidArgument, len(images), strings.Join(images, ", "))
}

// rhvChangesHint is the advice for errors that mean something particular for
// a volume chain; "" leaves the generic advice.
func rhvChangesHint(err error) string {
	switch {
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound):
		return "full backup required: the --since volume was merged away or merged into by a snapshot deletion, or is the leaf (the message above says which); take a full backup: run again with --full instead of --since, at an internal volume, and store the printed change ID"
	case errors.Is(err, cbt.ErrBusy):
		return "the volume is in use by a running VM (qemu holds its lock): list at an internal volume (a snapshot's), or use the incremental backup API for a running VM"
	case errors.Is(err, cbt.ErrCorrupt):
		return "the chain is broken or its qcow2 files disagree with the metadata: check it with cbtctl rhv chain; copying the whole disk is the safe fallback"
	case errors.Is(err, cbt.ErrNotFound):
		return "check --meta or --lvs and --lv-dir, --image and --volume: the chain or a volume file does not exist (anymore); an activated block domain's LVs are in /dev/DOMAIN"
	case errors.Is(err, cbt.ErrInvalidArgument):
		return "check --since and --volume: the base must be a volume below the one listed, given as a UUID or a change ID rhv:volume:... that a listing printed"
	}
	return ""
}
