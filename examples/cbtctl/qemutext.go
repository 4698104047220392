package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/changedblocks/sdk/qemu"
)

// writeInfoText writes what "qemu-img info" writes, in its words where it
// has them (so that its lines compare equal), then the bitmaps and the
// backing chain as tables.
func writeInfoText(w io.Writer, info qemu.Info, snaps []qemu.Snapshot, bitmaps []qemu.Bitmap) {
	fmt.Fprintf(w, "image: %s\n", info.Path)
	fmt.Fprintf(w, "file format: %s\n", info.Format)
	fmt.Fprintf(w, "virtual size: %s (%d bytes)\n", qemuSize(info.VirtualSize), info.VirtualSize)
	fmt.Fprintf(w, "cluster_size: %d\n", info.ClusterSize)
	if info.BackingFile != "" {
		actual := ""
		if len(info.Chain) > 1 && info.Chain[1].Path != info.BackingFile {
			actual = " (actual path: " + info.Chain[1].Path + ")"
		}
		fmt.Fprintf(w, "backing file: %s%s\n", info.BackingFile, actual)
	}
	if info.BackingFormat != "" {
		fmt.Fprintf(w, "backing file format: %s\n", info.BackingFormat)
	}
	writeSnapshotsText(w, snaps)
	fmt.Fprintln(w, "Format specific information:")
	fmt.Fprintf(w, "    compat: %s\n", info.Compat)
	fmt.Fprintf(w, "    compression type: %s\n", info.Compression)
	fmt.Fprintf(w, "    lazy refcounts: %t\n", info.LazyRefcounts)
	fmt.Fprintf(w, "    refcount bits: %d\n", info.RefcountBits)
	fmt.Fprintf(w, "    extended l2: %t\n", info.ExtendedL2)
	fmt.Fprintf(w, "    dirty flag: %t\n", info.Dirty)
	if info.Encryption != "" {
		fmt.Fprintf(w, "    encryption: %s\n", info.Encryption)
	}
	if info.DataFile != "" {
		fmt.Fprintf(w, "    data file: %s\n", info.DataFile)
	}
	if len(bitmaps) > 0 {
		fmt.Fprintf(w, "    bitmaps consistent: %t\n", info.BitmapsConsistent)
		fmt.Fprintln(w, "Bitmaps:")
		writeBitmapsText(w, bitmaps)
	}
	fmt.Fprintln(w, "Backing chain:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPTH\tFORMAT\tVIRTUAL SIZE\tPATH\tNAME")
	for _, l := range info.Chain {
		name := l.Name // as the overlay records it
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", l.Depth, l.Format, l.VirtualSize, l.Path, name)
	}
	tw.Flush()
}

// writeSnapshotsText writes the snapshot table as "qemu-img snapshot -l"
// does: nothing when there is none.
func writeSnapshotsText(w io.Writer, snaps []qemu.Snapshot) {
	if len(snaps) == 0 {
		return
	}
	fmt.Fprintln(w, "Snapshot list:")
	fmt.Fprintf(w, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT")
	for _, s := range snaps {
		secs := int64(s.VMClock / time.Second)
		clock := fmt.Sprintf("%02d:%02d:%02d.%03d", secs/3600, (secs/60)%60, secs%60, (s.VMClock/time.Millisecond)%1000)
		icount := ""
		if s.ICount != -1 {
			icount = strconv.FormatInt(s.ICount, 10)
		}
		date := time.Unix(s.Date.Unix(), 0).Format(time.DateTime) // local time, whole seconds
		fmt.Fprintf(w, "%-9s %-16s %8s%20s%13s%11s\n", s.ID, s.Name, qemuSize(s.VMStateSize), date, clock, icount)
	}
}

// writeSnapshotIDsText writes, after the snapshot table, the change ID that
// names each snapshot: nothing when there is none.
func writeSnapshotIDsText(w io.Writer, snaps []qemu.Snapshot) {
	if len(snaps) == 0 {
		return
	}
	fmt.Fprintln(w, "Change IDs:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTAG\tCHANGE ID")
	for _, s := range snaps {
		id, err := s.Point.ChangeID()
		text := id.String()
		if err != nil {
			text = "- (" + cliWords(err.Error()) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.ID, s.Name, text)
	}
	tw.Flush()
}

// writeBitmapsText writes the bitmaps as a table: name, granularity, flags
// and whether a listing can start from it.
func writeBitmapsText(w io.Writer, bitmaps []qemu.Bitmap) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGRANULARITY\tFLAGS\tBASE")
	for _, b := range bitmaps {
		flags := strings.Join(b.Flags, ",")
		if flags == "" {
			flags = "-"
		}
		base := "usable"
		if !b.Usable {
			base = "unusable"
			if b.Reason != "" {
				base += ": " + b.Reason
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", b.Name, b.Granularity, flags, base)
	}
	tw.Flush()
}

// qemuSize formats n as qemu's size_to_str does ("%0.3g" and a binary
// unit): "0 B", "4 MiB", "1.5 GiB", "0.977 KiB".
func qemuSize(n int64) string {
	suffixes := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}
	_, e := math.Frexp(float64(uint64(n)) / (1000.0 / 1024.0))
	i := min(max((e-1)/10, 0), len(suffixes)-1)
	v := float64(uint64(n)) / float64(uint64(1)<<(10*i))
	return strconv.FormatFloat(v, 'g', 3, 64) + " " + suffixes[i] + "B"
}
