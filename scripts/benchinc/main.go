// Command benchinc is the incremental part of scripts/bench-copy.sh, on an
// image with a persistent bitmap:
//
//	benchinc sdk IMAGE BITMAP PREV DST   backup.Incremental since the bitmap into
//	                                     a new overlay DST on PREV (PREV's manifest
//	                                     is written to say it holds the bitmap's point)
//	benchinc floor IMAGE BITMAP DST      the floor: the bitmap's dirty clusters,
//	                                     listed first (not timed), then read at their
//	                                     host offsets and written one after the other
//
// Each prints the seconds of the timed part and the bytes copied.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/qemu"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: benchinc sdk IMAGE BITMAP PREV DST | benchinc floor IMAGE BITMAP DST")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "sdk":
		if len(os.Args) != 6 {
			err = fmt.Errorf("sdk takes IMAGE BITMAP PREV DST")
			break
		}
		err = sdk(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
	case "floor":
		err = floor(os.Args[2], os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchinc:", err)
		os.Exit(1)
	}
}

func sdk(image, bitmap, prev, dst string) error {
	since, err := cbt.ParseChangeID("qcow2:bitmap:" + bitmap)
	if err != nil {
		return err
	}
	m, err := json.Marshal(backup.Manifest{Version: backup.ManifestVersion, File: prev, ChangeID: since.String()})
	if err != nil {
		return err
	}
	if err := os.WriteFile(backup.ManifestPath(prev), m, 0o644); err != nil {
		return err
	}
	start := time.Now()
	d, err := qemu.OpenActive(image, &qemu.Options{TrustUnguarded: true})
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := backup.Incremental(context.Background(), d, since, dst, prev, &backup.Options{NoSync: true, NoChecksums: true})
	if err != nil {
		return err
	}
	fmt.Printf("%.3f s, %d bytes copied\n", time.Since(start).Seconds(), r.Bytes)
	return nil
}

func floor(image, bitmap, dst string) error {
	f, err := os.Open(image)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	img, err := qcow2.Open(f, st.Size(), nil)
	if err != nil {
		return err
	}
	bms, err := img.Bitmaps()
	if err != nil {
		return err
	}
	var dirty []cbt.Extent
	for i := range bms {
		if bms[i].Name != bitmap {
			continue
		}
		for e, err := range img.DirtyExtents(&bms[i], int64(img.Header.Size)) {
			if err != nil {
				return err
			}
			dirty = append(dirty, e)
		}
	}
	cs := img.Header.ClusterSize()
	v := img.ActiveView()
	var hosts []int64 // the host offset of every dirty data cluster
	for _, e := range dirty {
		for g := e.Offset - e.Offset%cs; g < e.End(); g += cs {
			c, err := img.Lookup(v, g)
			if err != nil {
				return err
			}
			if c.Kind == qcow2.ClusterData {
				hosts = append(hosts, int64(c.HostOffset))
			}
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	buf := make([]byte, cs)
	start := time.Now()
	for _, h := range hosts {
		if _, err := f.ReadAt(buf, h); err != nil {
			return err
		}
		if _, err := out.Write(buf); err != nil {
			return err
		}
	}
	fmt.Printf("%.3f s, %d bytes copied\n", time.Since(start).Seconds(), int64(len(hosts))*cs)
	return nil
}
