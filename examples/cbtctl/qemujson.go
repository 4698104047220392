package main

import (
	"time"

	"github.com/changedblocks/sdk/qemu"
)

// The JSON that "cbtctl qemu info|snapshots|bitmaps --format json" prints.
// Member names are lowerCamelCase and stable; doc.go lists them. Lists are
// [] when empty, never null; strings "" when absent.

// infoJSON is "cbtctl qemu info --format json": one object.
type infoJSON struct {
	Path              string         `json:"path"`
	Format            string         `json:"format"`
	Version           int            `json:"version"`
	Compat            string         `json:"compat"`
	VirtualSize       int64          `json:"virtualSize"`
	ClusterSize       int64          `json:"clusterSize"`
	ExtendedL2        bool           `json:"extendedL2"`
	LazyRefcounts     bool           `json:"lazyRefcounts"`
	Dirty             bool           `json:"dirty"`
	Compression       string         `json:"compression"`
	Encryption        string         `json:"encryption"`
	RefcountBits      int            `json:"refcountBits"`
	BackingFile       string         `json:"backingFile"`
	BackingFormat     string         `json:"backingFormat"`
	DataFile          string         `json:"dataFile"`
	BitmapsConsistent bool           `json:"bitmapsConsistent"`
	Chain             []layerJSON    `json:"chain"`
	Snapshots         []snapshotJSON `json:"snapshots"`
	Bitmaps           []bitmapJSON   `json:"bitmaps"`
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

func newInfoJSON(info qemu.Info, snaps []qemu.Snapshot, bitmaps []qemu.Bitmap) infoJSON {
	chain := make([]layerJSON, 0, len(info.Chain))
	for _, l := range info.Chain {
		chain = append(chain, layerJSON{Path: l.Path, Name: l.Name, Format: l.Format, VirtualSize: l.VirtualSize, Depth: l.Depth})
	}
	return infoJSON{
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
		Snapshots:         newSnapshotsJSON(snaps),
		Bitmaps:           newBitmapsJSON(bitmaps),
	}
}

func newSnapshotsJSON(snaps []qemu.Snapshot) []snapshotJSON {
	out := make([]snapshotJSON, 0, len(snaps))
	for _, s := range snaps {
		out = append(out, snapshotJSON{
			ID:          s.ID,
			Name:        s.Name,
			Date:        s.Date.UTC().Format(time.RFC3339Nano),
			VMClockNsec: s.VMClock.Nanoseconds(),
			VMStateSize: s.VMStateSize,
			DiskSize:    s.DiskSize,
			ICount:      s.ICount,
			ChangeID:    pointChangeID(s.Point),
		})
	}
	return out
}

func newBitmapsJSON(bitmaps []qemu.Bitmap) []bitmapJSON {
	out := make([]bitmapJSON, 0, len(bitmaps))
	for _, b := range bitmaps {
		flags := b.Flags
		if flags == nil {
			flags = []string{}
		}
		out = append(out, bitmapJSON{
			Name:        b.Name,
			Granularity: b.Granularity,
			Flags:       flags,
			InUse:       b.InUse,
			Enabled:     b.Enabled,
			Usable:      b.Usable,
			Reason:      b.Reason,
			ChangeID:    pointChangeID(qemu.BitmapPoint(b.Name)),
		})
	}
	return out
}

// pointChangeID is the change ID naming p, "" when p cannot have one.
func pointChangeID(p qemu.Point) string {
	id, err := p.ChangeID()
	if err != nil {
		return ""
	}
	return id.String()
}
