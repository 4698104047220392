package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
	"github.com/changedblocks/sdk/rhv"
)

// rhvChainCommand is "cbtctl rhv chain".
func rhvChainCommand() command {
	return command{name: "chain", synopsis: "read a disk's volume chain offline and report what is wrong with it", run: runRHVChain}
}

const rhvChainAbout = `Reads the volume chains of RHV / oVirt disks from what the engine, the REST
API or the storage says, prints each chain base first, and reports what is
wrong: the chain errors of vdsm-tool dump-volume-chains under vdsm's names
(DuplicateParentError, UnknownParentError, UnknownImageError, NoBaseVolume,
ChainLoopError, OrphanVolumes), ILLEGAL or LOCKED volumes, volumes still
initializing or marked for removal, a PU_ tag that disagrees with the
metadata parent (the metadata wins, as in vdsm), invalid or cleared metadata,
and, with more than one source, where the sources disagree (MissingVolume,
ParentMismatch, ImageMismatch, LegalityMismatch, FormatMismatch).

Sources (at least one; each a file or directory already captured):
  --engine FILE   psql output of the engine DB: select * from images ...
  --rest FILE     JSON of GET /ovirt-engine/api/disks/DISK/disksnapshots
                  (or /storagedomains/SD/disksnapshots), include_active=true
  --dump FILE     vdsm-tool dump-volume-chains SD output (text or -o json)
  --lvs FILE      lvs output of a block domain, as a host prints it: vdsm's
                  --separator '|' form, lvs -o +tags (with or without its
                  heading, or lines of it kept by grep), --nameprefixes or
                  --reportformat json; with --metadata FILE (a copy of the domain's
                  "metadata" LV: dd if=/dev/SD/metadata of=FILE bs=1M count=17)
                  and --domain-version 4|5 each volume's record is read too
  --meta DIR      a file domain's images/IMAGE directory, or its images/

The chain printed comes from the storage when given (--meta, --lvs, --dump, in
that order), else from --rest, else --engine. With several sources each is
checked, its findings prefixed with its name, and each other source is
compared with the first; without --image only the images both sources list
are compared. Without --image every image is printed.

--format json prints one line per image:
  {"image":"UUID","volumes":[VOLUME...],"findings":[{"kind":"...","volume":"UUID","message":"..."}]}
  VOLUME: {"id","parent","format","type","role","legality","status","capacity",
           "generation","sequence","ctime","description","mdSlot","parentTag",
           "initializing","removed","problems"}
volumes base first when the chain is whole, else in the source's order;
"parent" is 00000000-0000-0000-0000-000000000000 for a base and unknown-parent
when no source says; "mdSlot" is -1 off block domains; "volume" is "" for a
finding about the whole image (NoBaseVolume).

Exit status: 0 no findings, 1 findings (or an error: stderr says what), 2 usage
error.`

// rhvSource is one source of volumes the command read.
type rhvSource struct {
	name string
	vols []rhv.Volume
}

// rhvChainFlags are the flags of "cbtctl rhv chain".
type rhvChainFlags struct {
	engine, lvs, metadata, dump, meta, rest, image string
	domainVersion                                  int
	format                                         formatValue
}

func runRHVChain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("cbtctl rhv chain",
		"cbtctl rhv chain [--engine FILE] [--rest FILE] [--dump FILE] [--lvs FILE [--metadata FILE --domain-version 4|5]]\n\t                 [--meta DIR] [--image UUID] [--format text|json]",
		rhvChainAbout)
	var f rhvChainFlags
	fs.StringVar(&f.engine, "engine", "", "the engine's images rows as psql prints them, in `FILE`")
	fs.StringVar(&f.rest, "rest", "", "the REST API's disk snapshots (JSON) in `FILE`")
	fs.StringVar(&f.dump, "dump", "", "vdsm-tool dump-volume-chains output (text or JSON) in `FILE`")
	fs.StringVar(&f.lvs, "lvs", "", "a block domain's lvs output in `FILE`")
	fs.StringVar(&f.metadata, "metadata", "", "a copy of the block domain's metadata LV in `FILE` (with --lvs)")
	fs.IntVar(&f.domainVersion, "domain-version", 0, "the block domain's `VERSION`, 4 or 5 (with --metadata; 3 and older read as 4)")
	fs.StringVar(&f.meta, "meta", "", "a file domain's image directory, or its images directory, `DIR`")
	fs.StringVar(&f.image, "image", "", "report only the disk (image) `UUID`")
	fs.Var(&f.format, "format", "output `FORMAT`: text or json (one line per image)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	case f.engine == "" && f.rest == "" && f.dump == "" && f.lvs == "" && f.meta == "":
		return usageError(fs, stderr, "give at least one source: --engine, --rest, --dump, --lvs or --meta")
	case f.metadata != "" && f.lvs == "":
		return usageError(fs, stderr, "--metadata needs --lvs: the LV tags say which slot is whose")
	case f.metadata != "" && (f.domainVersion < 1 || f.domainVersion > 5):
		return usageError(fs, stderr, "--metadata needs --domain-version 4 or 5 (the storage domain's format version: V5 since oVirt 4.3)")
	case f.metadata == "" && f.domainVersion != 0:
		return usageError(fs, stderr, "--domain-version is for --metadata")
	}
	sources, err := readRHVSources(ctx, &f)
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", rhvChainHint)
	}
	if f.image != "" && !anyVolumeOf(sources, f.image) {
		err := fmt.Errorf("%w: rhv: no source lists a volume of image %s", cbt.ErrNotFound, f.image)
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", rhvChainHint)
	}
	reports := rhvChainReports(sources, f.image)
	w := bufio.NewWriter(stdout)
	n := 0
	for _, r := range reports {
		n += len(r.findings)
		if f.format.json() {
			enc := json.NewEncoder(w)
			enc.SetEscapeHTML(false) // "<-" in vdsm's messages stays readable
			err = enc.Encode(newRHVChainJSON(r))
		} else {
			writeRHVChainText(w, r, len(sources) > 1)
		}
		if err != nil {
			break
		}
	}
	if !f.format.json() {
		fmt.Fprintf(w, "# %d image(s), %d finding(s)\n", len(reports), n)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		return reportError(ctx, stderr, fs.Name(), writeError(err), "")
	}
	if n > 0 {
		return exitError
	}
	return exitOK
}

// rhvChainHint is the advice for an error reading the sources.
func rhvChainHint(err error) string {
	switch {
	case errors.Is(err, cbt.ErrNotFound):
		return "check the file names and the --image UUID (the disk's id)"
	case errors.Is(err, cbt.ErrCorrupt):
		return "check that each file holds what its flag names (cbtctl help rhv chain)"
	}
	return ""
}

// readRHVSources reads the sources the flags name, storage first.
func readRHVSources(ctx context.Context, f *rhvChainFlags) ([]rhvSource, error) {
	var sources []rhvSource
	add := func(name string, read func() ([]rhv.Volume, error)) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		vols, err := read()
		if err != nil {
			return err
		}
		sources = append(sources, rhvSource{name, vols})
		return nil
	}
	steps := []struct {
		name, path string
		read       func() ([]rhv.Volume, error)
	}{
		{"meta", f.meta, func() ([]rhv.Volume, error) {
			if err := checkArg(f.meta, hostfile.Directory); err != nil {
				return nil, fmt.Errorf("--meta: %w", err)
			}
			return rhv.ReadMetaDir(f.meta)
		}},
		{"lvs", f.lvs, func() ([]rhv.Volume, error) { return readLVsWithMetadata(f) }},
		{"dump", f.dump, func() ([]rhv.Volume, error) { return fromPath(f.dump, rhv.ReadDump) }},
		{"rest", f.rest, func() ([]rhv.Volume, error) { return fromPath(f.rest, rhv.ReadREST) }},
		{"engine", f.engine, func() ([]rhv.Volume, error) { return fromPath(f.engine, rhv.ReadEngine) }},
	}
	for _, s := range steps {
		if s.path == "" {
			continue
		}
		if err := add(s.name, s.read); err != nil {
			return nil, err
		}
	}
	return sources, nil
}

// readLVsWithMetadata reads --lvs and, with --metadata, the records.
func readLVsWithMetadata(f *rhvChainFlags) ([]rhv.Volume, error) {
	vols, err := fromPath(f.lvs, rhv.ReadLVs)
	if err != nil || f.metadata == "" {
		return vols, err
	}
	md, err := openInput(f.metadata)
	if err != nil {
		return nil, err
	}
	defer md.Close()
	vols, err = rhv.ReadMetadataSlots(md, f.domainVersion, vols)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.metadata, err)
	}
	return vols, nil
}

func fromPath(path string, read func(io.Reader) ([]rhv.Volume, error)) ([]rhv.Volume, error) {
	fh, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	vols, err := read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return vols, nil
}

// openInput opens a source file, refusing what is no file (a directory, a
// FIFO: never blocking in its open): a missing file is cbt.ErrNotFound, a
// kind of file not taken a *hostfile.KindError (a usage error), any other
// failure cbt.ErrInvalidArgument.
func openInput(path string) (*os.File, error) {
	fh, _, _, err := hostfile.Open(path, hostfile.Regular|hostfile.BlockDevice)
	var ke *hostfile.KindError
	switch {
	case err == nil:
		return fh, nil
	case errors.As(err, &ke):
		return nil, err
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", cbt.ErrNotFound, err)
	}
	return nil, fmt.Errorf("%w: %w", cbt.ErrInvalidArgument, err)
}

// rhvChainReport is what the command prints for one image.
type rhvChainReport struct {
	chain    rhv.Chain
	from     string // the source the chain comes from
	findings []rhv.Finding
}

// rhvChainReports builds the report of image (all images when "") from the
// sources, the first one giving the chain.
func rhvChainReports(sources []rhvSource, image string) []rhvChainReport {
	var images []string
	seen := map[string]bool{}
	if image != "" {
		images = []string{image}
	} else {
		for _, s := range sources {
			chains, _ := rhv.BuildChains(s.vols)
			for _, ch := range chains {
				if !seen[ch.Image] {
					seen[ch.Image] = true
					images = append(images, ch.Image)
				}
			}
		}
	}
	reports := make([]rhvChainReport, 0, len(images))
	for _, img := range images {
		r := rhvChainReport{chain: rhv.Chain{Image: img}}
		for i, s := range sources {
			ch, fs := rhv.BuildChain(img, s.vols)
			if r.from == "" && (len(ch.Volumes) > 0 || i == len(sources)-1) {
				r.chain, r.from = ch, s.name
			}
			for _, f := range fs {
				if len(sources) > 1 {
					f.Message = s.name + ": " + f.Message
				}
				r.findings = append(r.findings, f)
			}
		}
		first := ofImage(sources[0].vols, img)
		for _, s := range sources[1:] {
			other := ofImage(s.vols, img)
			if image == "" && (len(first) == 0 || len(other) == 0) {
				continue // an image one source does not cover
			}
			r.findings = append(r.findings, rhv.Compare(first, other, sources[0].name, s.name)...)
		}
		reports = append(reports, r)
	}
	return reports
}

// ofImage returns the volumes of image among vols.
func ofImage(vols []rhv.Volume, image string) []rhv.Volume {
	var out []rhv.Volume
	for _, v := range vols {
		img := v.Image
		if img == "" {
			img = rhv.UnknownImage
		}
		if img == image {
			out = append(out, v)
		}
	}
	return out
}

func anyVolumeOf(sources []rhvSource, image string) bool {
	for _, s := range sources {
		if len(ofImage(s.vols, image)) > 0 {
			return true
		}
	}
	return false
}

// writeRHVChainText writes one image's report as text.
func writeRHVChainText(w io.Writer, r rhvChainReport, named bool) {
	ch := r.chain
	from := ""
	if named && len(ch.Volumes) > 0 {
		from = " (from " + r.from + ")"
	}
	switch {
	case len(ch.Volumes) == 0:
		fmt.Fprintf(w, "image %s: no volume in the chain%s\n", ch.Image, from)
	case ch.Ordered:
		fmt.Fprintf(w, "image %s: %d volume(s), base first%s\n", ch.Image, len(ch.Volumes), from)
	default:
		fmt.Fprintf(w, "image %s: %d volume(s), NOT a chain: in the source's order%s\n", ch.Image, len(ch.Volumes), from)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, v := range ch.Volumes {
		pos := "-"
		if ch.Ordered {
			pos = strconv.Itoa(i + 1)
		}
		parent := v.Parent
		if v.IsBase() {
			parent = "(base)"
		}
		capacity := "-"
		if v.Capacity > 0 {
			capacity = strconv.FormatInt(v.Capacity, 10)
		}
		fmt.Fprintf(tw, "  %s\t%s\tparent %s\t%s\t%s\t%s\t%s\t%s\t%s\n", pos, v.ID, parent,
			dash(string(v.Format)), dash(v.Type), dash(string(v.Role)), dash(string(v.Legality)), dash(v.Status), capacity)
	}
	tw.Flush()
	if len(r.findings) == 0 {
		fmt.Fprintln(w, "  no findings")
	}
	for _, f := range r.findings {
		vol := f.Volume
		if vol == "" {
			vol = "(image)"
		}
		fmt.Fprintf(w, "  ! %s %s: %s\n", f.Kind, vol, f.Message)
	}
	fmt.Fprintln(w)
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// rhvChainJSON is one line of --format json.
type rhvChainJSON struct {
	Image    string              `json:"image"`
	Volumes  []rhvVolumeJSON     `json:"volumes"`
	Findings []rhvChainFindingJS `json:"findings"`
}

type rhvVolumeJSON struct {
	ID           string   `json:"id"`
	Parent       string   `json:"parent"`
	Format       string   `json:"format"`
	Type         string   `json:"type"`
	Role         string   `json:"role"`
	Legality     string   `json:"legality"`
	Status       string   `json:"status"`
	Capacity     int64    `json:"capacity"`
	Generation   int64    `json:"generation"`
	Sequence     int64    `json:"sequence"`
	CTime        int64    `json:"ctime"`
	Description  string   `json:"description"`
	MDSlot       int      `json:"mdSlot"`
	ParentTag    string   `json:"parentTag"`
	Initializing bool     `json:"initializing"`
	Removed      bool     `json:"removed"`
	Problems     []string `json:"problems"`
}

type rhvChainFindingJS struct {
	Kind    string `json:"kind"`
	Volume  string `json:"volume"`
	Message string `json:"message"`
}

func newRHVChainJSON(r rhvChainReport) rhvChainJSON {
	out := rhvChainJSON{Image: r.chain.Image, Volumes: []rhvVolumeJSON{}, Findings: []rhvChainFindingJS{}}
	for _, v := range r.chain.Volumes {
		parent := v.Parent
		if parent == "" {
			parent = rhv.BlankUUID
		}
		problems := v.Problems
		if problems == nil {
			problems = []string{}
		}
		out.Volumes = append(out.Volumes, rhvVolumeJSON{
			ID: v.ID, Parent: parent, Format: string(v.Format), Type: v.Type, Role: string(v.Role),
			Legality: string(v.Legality), Status: v.Status, Capacity: v.Capacity, Generation: v.Generation,
			Sequence: v.Sequence, CTime: v.CTime, Description: v.Description, MDSlot: v.MDSlot,
			ParentTag: v.ParentTag, Initializing: v.Initializing, Removed: v.Removed, Problems: problems,
		})
	}
	for _, f := range r.findings {
		out.Findings = append(out.Findings, rhvChainFindingJS{Kind: string(f.Kind), Volume: f.Volume, Message: f.Message})
	}
	return out
}
