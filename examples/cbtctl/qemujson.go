package main

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"time"

	"github.com/changedblocks/sdk/qemu"
)

// The JSON that "cbtctl qemu info|snapshots|bitmaps --format json" prints.
// Member names are lowerCamelCase and stable; doc.go lists them. Lists are
// [] when empty, never null; strings "" when absent. The tables are written
// element by element as they are read, the framing by hand.

// infoJSON is "cbtctl qemu info --format json": one object, the header's
// members, then the snapshots and the bitmaps.
type infoJSON struct {
	infoHeadJSON
	Snapshots []snapshotJSON `json:"snapshots"`
	Bitmaps   []bitmapJSON   `json:"bitmaps"`
}

// infoHeadJSON is what "cbtctl qemu info --format json" prints before the
// tables.
type infoHeadJSON struct {
	Path              string      `json:"path"`
	Format            string      `json:"format"`
	Version           int         `json:"version"`
	Compat            string      `json:"compat"`
	VirtualSize       int64       `json:"virtualSize"`
	ClusterSize       int64       `json:"clusterSize"`
	ExtendedL2        bool        `json:"extendedL2"`
	LazyRefcounts     bool        `json:"lazyRefcounts"`
	Dirty             bool        `json:"dirty"`
	Compression       string      `json:"compression"`
	Encryption        string      `json:"encryption"`
	RefcountBits      int         `json:"refcountBits"`
	BackingFile       string      `json:"backingFile"`
	BackingFormat     string      `json:"backingFormat"`
	DataFile          string      `json:"dataFile"`
	BitmapsConsistent bool        `json:"bitmapsConsistent"`
	Chain             []layerJSON `json:"chain"`
}

// layerJSON is one file of the backing chain, the image itself first.
type layerJSON struct {
	Path        string `json:"path"`
	Name        string `json:"name"`
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtualSize"`
	Depth       int    `json:"depth"`
}

// snapshotJSON is one internal snapshot; "cbtctl qemu snapshots --format
// json" prints an array of them.
type snapshotJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Date        string `json:"date"` // RFC 3339, UTC, with nanoseconds
	VMClockNsec int64  `json:"vmClockNsec"`
	VMStateSize int64  `json:"vmStateSize"`
	DiskSize    int64  `json:"diskSize"`
	ICount      int64  `json:"icount"` // -1: none
	ChangeID    string `json:"changeId"`
}

// bitmapJSON is one persistent dirty bitmap; "cbtctl qemu bitmaps --format
// json" prints an array of them.
type bitmapJSON struct {
	Name        string   `json:"name"`
	Granularity int64    `json:"granularity"`
	Flags       []string `json:"flags"`
	InUse       bool     `json:"inUse"`
	Enabled     bool     `json:"enabled"`
	Usable      bool     `json:"usable"`
	Reason      string   `json:"reason"`
	ChangeID    string   `json:"changeId"`
}

// writeInfoJSON writes "cbtctl qemu info --format json": the header's
// members, then the snapshots and the bitmaps one at a time, as they are read.
func writeInfoJSON(ctx context.Context, w io.Writer, im *qemu.Image) error {
	head, err := json.Marshal(newInfoHeadJSON(im.Info()))
	if err != nil {
		return err
	}
	if _, err := w.Write(head[:len(head)-1]); err != nil { // the object stays open
		return err
	}
	if _, err := io.WriteString(w, `,"snapshots":`); err != nil {
		return err
	}
	if err := writeArray(ctx, w, im.AllSnapshots(), newSnapshotJSON); err != nil {
		return err
	}
	if _, err := io.WriteString(w, `,"bitmaps":`); err != nil {
		return err
	}
	if err := writeArray(ctx, w, im.AllBitmaps(), newBitmapJSON); err != nil {
		return err
	}
	_, err = io.WriteString(w, "}\n")
	return err
}

// writeSnapshotsJSON writes "cbtctl qemu snapshots --format json".
func writeSnapshotsJSON(ctx context.Context, w io.Writer, im *qemu.Image) error {
	if err := writeArray(ctx, w, im.AllSnapshots(), newSnapshotJSON); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeBitmapsJSON writes "cbtctl qemu bitmaps --format json".
func writeBitmapsJSON(ctx context.Context, w io.Writer, im *qemu.Image) error {
	if err := writeArray(ctx, w, im.AllBitmaps(), newBitmapJSON); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeArray writes what seq yields as a JSON array, each element encoded
// by itself as it comes, as conv makes it. The first error seq yields ends
// the array where it is, unclosed, and is returned; so is ctx's error,
// checked before each element.
func writeArray[E, J any](ctx context.Context, w io.Writer, seq iter.Seq2[E, error], conv func(E) J) error {
	sep := "["
	for e, err := range seq {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return err
		}
		b, err := json.Marshal(conv(e))
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep = ","
	}
	if sep == "[" {
		_, err := io.WriteString(w, "[]")
		return err
	}
	_, err := io.WriteString(w, "]")
	return err
}

func newInfoHeadJSON(info qemu.Info) infoHeadJSON {
	chain := make([]layerJSON, 0, len(info.Chain))
	for _, l := range info.Chain {
		chain = append(chain, layerJSON{Path: l.Path, Name: l.Name, Format: l.Format, VirtualSize: l.VirtualSize, Depth: l.Depth})
	}
	return infoHeadJSON{
		Path:              info.Path,
		Format:            info.Format,
		Version:           info.Version,
		Compat:            info.Compat,
		VirtualSize:       info.VirtualSize,
		ClusterSize:       info.ClusterSize,
		ExtendedL2:        info.ExtendedL2,
		LazyRefcounts:     info.LazyRefcounts,
		Dirty:             info.Dirty,
		Compression:       info.Compression,
		Encryption:        info.Encryption,
		RefcountBits:      info.RefcountBits,
		BackingFile:       info.BackingFile,
		BackingFormat:     info.BackingFormat,
		DataFile:          info.DataFile,
		BitmapsConsistent: info.BitmapsConsistent,
		Chain:             chain,
	}
}

func newSnapshotJSON(s qemu.Snapshot) snapshotJSON {
	return snapshotJSON{
		ID:          s.ID,
		Name:        s.Name,
		Date:        s.Date.UTC().Format(time.RFC3339Nano),
		VMClockNsec: s.VMClock.Nanoseconds(),
		VMStateSize: s.VMStateSize,
		DiskSize:    s.DiskSize,
		ICount:      s.ICount,
		ChangeID:    pointChangeID(s.Point),
	}
}

func newBitmapJSON(b qemu.Bitmap) bitmapJSON {
	flags := b.Flags
	if flags == nil {
		flags = []string{}
	}
	return bitmapJSON{
		Name:        b.Name,
		Granularity: b.Granularity,
		Flags:       flags,
		InUse:       b.InUse,
		Enabled:     b.Enabled,
		Usable:      b.Usable,
		Reason:      b.Reason,
		ChangeID:    pointChangeID(qemu.BitmapPoint(b.Name)),
	}
}

// pointChangeID is the change ID naming p, "" when p cannot have one.
func pointChangeID(p qemu.Point) string {
	id, err := p.ChangeID()
	if err != nil {
		return ""
	}
	return id.String()
}
