package main

import (
	"context"
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
// backing chain as tables. The snapshots and the bitmaps are written as they
// are read.
func writeInfoText(ctx context.Context, w io.Writer, im *qemu.Image) error {
	info := im.Info()
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
	if _, err := writeSnapshotsText(ctx, w, im); err != nil {
		return err
	}
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
	// The bitmaps, when there are any.
	bitmaps := newTable(w, "")
	first := func() {
		fmt.Fprintf(w, "    bitmaps consistent: %t\n", info.BitmapsConsistent)
		fmt.Fprintln(w, "Bitmaps:")
		bitmaps.header = "NAME\tGRANULARITY\tFLAGS\tBASE"
	}
	if err := writeBitmapsText(ctx, bitmaps, im, first); err != nil {
		return err
	}
	fmt.Fprintln(w, "Backing chain:")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "DEPTH\tFORMAT\tVIRTUAL SIZE\tPATH\tNAME")
	for _, l := range info.Chain { // at most qemu.MaxChainDepth+1 rows
		name := l.Name // as the overlay records it
		if name == "" {
			name = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", l.Depth, l.Format, l.VirtualSize, l.Path, name)
	}
	return tw.Flush()
}

// writeSnapshotsText writes the snapshot table as "qemu-img snapshot -l"
// does, row by row as it reads it (nothing when there is none), and returns
// the number of rows. Its columns have qemu-img's fixed widths.
func writeSnapshotsText(ctx context.Context, w io.Writer, im *qemu.Image) (int, error) {
	n := 0
	for s, err := range im.AllSnapshots() {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return n, err
		}
		if n == 0 {
			fmt.Fprintln(w, "Snapshot list:")
			fmt.Fprintf(w, "%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT")
		}
		n++
		secs := int64(s.VMClock / time.Second)
		clock := fmt.Sprintf("%02d:%02d:%02d.%03d", secs/3600, (secs/60)%60, secs%60, (s.VMClock/time.Millisecond)%1000)
		icount := ""
		if s.ICount != -1 {
			icount = strconv.FormatInt(s.ICount, 10)
		}
		date := time.Unix(s.Date.Unix(), 0).Format(time.DateTime) // local time, whole seconds
		if _, err := fmt.Fprintf(w, "%-9s %-16s %8s%20s%13s%11s\n", s.ID, s.Name, qemuSize(s.VMStateSize), date, clock, icount); err != nil {
			return n, err
		}
	}
	return n, nil
}

// writeSnapshotIDsText writes, after the snapshot table, the change ID that
// names each snapshot, reading the table again.
func writeSnapshotIDsText(ctx context.Context, w io.Writer, im *qemu.Image) error {
	fmt.Fprintln(w, "Change IDs:")
	t := newTable(w, "ID\tTAG\tCHANGE ID")
	for s, err := range im.AllSnapshots() {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			t.flush() // the rows before the fault
			return err
		}
		id, err := s.Point.ChangeID()
		text := id.String()
		if err != nil {
			text = "- (" + cliWords(err.Error()) + ")"
		}
		if err := t.row(s.ID, s.Name, text); err != nil {
			return err
		}
	}
	return t.flush()
}

// writeBitmapsText writes the bitmaps to t, row by row as it reads them:
// name, granularity, flags and whether a listing can start from it. It calls
// first, when not nil, before the first row.
func writeBitmapsText(ctx context.Context, t *table, im *qemu.Image, first func()) error {
	n := 0
	for b, err := range im.AllBitmaps() {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			if n > 0 {
				t.flush() // the rows before the fault
			}
			return err
		}
		if n == 0 && first != nil {
			first()
		}
		n++
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
		if err := t.row(b.Name, strconv.FormatInt(b.Granularity, 10), flags, base); err != nil {
			return err
		}
	}
	return t.flush()
}

// Rows a table holds before it writes them out: its columns are aligned
// within each batch (all of a table of common size), and what it holds
// stays bounded whatever the table. A batch's cost is its text plus
// tableCellCost for each cell and line the tabwriter keeps: a name made of
// tabs or newlines (a crafted image) is that many cells or lines.
const (
	tableBatchRows  = 1000
	tableBatchBytes = 1 << 20
	tableCellCost   = 64
)

// table writes rows of tab-separated cells through a tabwriter, written
// out every tableBatchRows rows or tableBatchBytes bytes. The header, when
// not "", is written before the first batch only, even when no row follows.
type table struct {
	w      io.Writer
	tw     *tabwriter.Writer
	header string
	rows   int // rows the tabwriter holds
	bytes  int // their cost (see tableCellCost)
}

func newTable(w io.Writer, header string) *table {
	return &table{w: w, header: header}
}

func (t *table) row(cells ...string) error {
	line := strings.Join(cells, "\t") + "\n"
	cost := len(line) + tableCellCost*(strings.Count(line, "\t")+strings.Count(line, "\n"))
	if t.rows >= tableBatchRows || t.bytes+cost > tableBatchBytes && t.rows > 0 {
		if err := t.tw.Flush(); err != nil {
			return err
		}
		t.rows, t.bytes = 0, 0
	}
	if t.tw == nil {
		t.start()
	}
	if _, err := io.WriteString(t.tw, line); err != nil {
		return err
	}
	t.rows++
	t.bytes += cost
	return nil
}

// start starts the tabwriter with the header.
func (t *table) start() {
	t.tw = tabwriter.NewWriter(t.w, 0, 8, 2, ' ', 0)
	if t.header != "" {
		io.WriteString(t.tw, t.header+"\n")
	}
}

// flush writes out the rows held (the header alone when there was none).
func (t *table) flush() error {
	if t.tw == nil {
		if t.header == "" {
			return nil
		}
		t.start()
	}
	err := t.tw.Flush()
	t.rows, t.bytes = 0, 0
	return err
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
