package qemu_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/qemutools"
	"github.com/changedblocks/sdk/qemu"
)

// The memory tests run each operation in a child process (this test binary,
// run again for TestMemoryChild alone), so that nothing another test left on
// the heap hides what the operation needs. The child reports how much its
// heap grew: runtime.MemStats.HeapSys only ever grows, so its growth over
// the operation is at least the operation's peak heap. The parent also
// logs the child's peak RSS (inflated under -race by the detector's shadow
// memory).

// memoryChildEnv names the operation the child runs, and the image.
const (
	memoryOpEnv    = "QEMU_MEMORY_TEST_OP"
	memoryImageEnv = "QEMU_MEMORY_TEST_IMAGE"
	memoryPrefix   = "memory-test-result "
)

// memoryOps are the operations a child can run on an image. Each returns
// what it keeps (measured after a collection, before it is dropped).
var memoryOps = map[string]func(path string) (any, error){
	"snapshots": func(path string) (any, error) {
		im, err := qemu.OpenImage(path, nil)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		return im.Snapshots()
	},
	"all-snapshots": func(path string) (any, error) {
		im, err := qemu.OpenImage(path, nil)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		n := 0
		for _, err := range im.AllSnapshots() {
			if err != nil {
				return nil, err
			}
			n++
		}
		return n, nil
	},
	"bitmaps": func(path string) (any, error) {
		im, err := qemu.OpenImage(path, nil)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		return im.Bitmaps()
	},
	"all-bitmaps": func(path string) (any, error) {
		im, err := qemu.OpenImage(path, nil)
		if err != nil {
			return nil, err
		}
		defer im.Close()
		n := 0
		for _, err := range im.AllBitmaps() {
			if err != nil {
				return nil, err
			}
			n++
		}
		return n, nil
	},
	"list-since-snapshot": func(path string) (any, error) {
		return listAll(path, qemu.Active(), qemu.SnapshotPoint("1"))
	},
	"list-at-snapshot": func(path string) (any, error) {
		return listAll(path, qemu.SnapshotPoint("1"), qemu.Point{})
	},
	"list-since-bitmap": func(path string) (any, error) {
		return listAll(path, qemu.Active(), qemu.BitmapPoint(bitmapName(65534)))
	},
	"list-full": func(path string) (any, error) {
		return listAll(path, qemu.Active(), qemu.Point{})
	},
}

// listAll lists the changes of the image at a point since a base (none when
// since is the zero Point), and returns the number of extents.
func listAll(path string, at, since qemu.Point) (any, error) {
	d, err := qemu.Open(path, at, &qemu.Options{TrustUnguarded: true}) // the crafted names are never reused
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var id cbt.ChangeID
	if since != (qemu.Point{}) {
		if id, err = since.ChangeID(); err != nil {
			return nil, err
		}
	}
	n := 0
	for _, err := range d.Changes(context.Background(), id, nil) {
		if err != nil {
			return nil, err
		}
		n++
	}
	return n, nil
}

// TestMemoryChild is the child of measureMemory; it does nothing in a
// normal run.
func TestMemoryChild(t *testing.T) {
	op := os.Getenv(memoryOpEnv)
	if op == "" {
		t.Skip("the child process of the memory tests")
	}
	fn := memoryOps[op]
	require.NotNil(t, fn, op)
	var before, after, kept runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := fn(os.Getenv(memoryImageEnv))
	runtime.ReadMemStats(&after)
	runtime.GC()
	runtime.ReadMemStats(&kept)
	runtime.KeepAlive(v)
	msg := "ok"
	if err != nil {
		msg = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	fmt.Printf("%sheap=%d kept=%d total=%d err=%s\n", memoryPrefix, after.HeapSys-before.HeapSys, int64(kept.HeapAlloc)-int64(before.HeapAlloc), after.TotalAlloc-before.TotalAlloc, msg)
}

// memoryResult is what a child measured.
type memoryResult struct {
	heap   uint64 // growth of the heap: at least the peak heap of the operation
	kept   int64  // live heap after the operation, what it returned still alive
	total  uint64 // bytes allocated in all
	maxRSS int64  // the child's peak RSS, bytes
	err    string // "ok", or the operation's error
}

// measureMemory runs op on the image at path in a child process.
func measureMemory(t *testing.T, op, path string) memoryResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memoryOpEnv+"="+op, memoryImageEnv+"="+path, "GOGC=100", "GOMEMLIMIT=off")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	var r memoryResult
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	sc.Buffer(nil, 1<<20)
	found := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), memoryPrefix)
		if !ok {
			continue
		}
		found = true
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "heap":
				r.heap, _ = strconv.ParseUint(v, 10, 64)
			case "kept":
				r.kept, _ = strconv.ParseInt(v, 10, 64)
			case "total":
				r.total, _ = strconv.ParseUint(v, 10, 64)
			case "err":
				r.err = line[strings.Index(line, "err=")+4:]
			}
		}
	}
	require.True(t, found, "child printed no result: %s", out)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss << 10
	}
	t.Logf("%s on %s: heap grew %d MiB, kept %d MiB, allocated %d MiB, child max RSS %d MiB, %s", op, filepath.Base(path), r.heap>>20, r.kept>>20, r.total>>20, r.maxRSS>>20, r.err)
	return r
}

// The bounds the package documents (doc.go, "Memory"), for the one-file
// images with 64 KiB clusters or less of these tests.
const (
	listingBound = 40<<20 + 3*64<<10 // metadata a listing holds: 40 MiB, two L2 tables and an L1 window
	entryBound   = 16 << 20          // what AllSnapshots and AllBitmaps hold
)

// TestMemoryCraftedImages runs the operations a user runs on the crafted
// images of the issue (a 64 MiB snapshot table, a directory of 65535
// bitmaps, two 32 MiB L1 tables, a 100 GiB image with 512-byte clusters)
// and checks the bounds the package documents (see the package doc, "Memory"):
// a listing holds at most listingBound of metadata, AllSnapshots and
// AllBitmaps at most entryBound; Snapshots and Bitmaps keep about the table's size
// (the names) plus a fixed size per entry. Before, a listing at the L1
// tables held 132 MiB, at the 512-byte clusters 96 MiB, at a snapshot of the
// large table 72 MiB, and Snapshots kept two copies of every name.
func TestMemoryCraftedImages(t *testing.T) {
	qemutools.Need(t, "qemu-img", "qemu-io")
	dir := t.TempDir()
	snaps, bitmaps, hugeL1 := craftSnapshotTable(t, dir), craftBitmapDirectory(t, dir), craftHugeL1(t, dir)
	c512 := filepath.Join(dir, "c512.qcow2")
	qemutools.Create(t, c512, "cluster_size=512", "100G")
	qemutools.QemuIO(t, c512, "write 0 1M", "write 50G 1M", "write 99G 1M")

	const table = 64 << 20 // the names of either table: 1 KiB entries
	for _, c := range []struct {
		op, path string
		heap     uint64 // bound of the peak heap
		kept     int64  // bound of what stays
	}{
		{"all-snapshots", snaps, entryBound, 1 << 20},
		{"list-at-snapshot", snaps, listingBound, 1 << 20},
		{"all-bitmaps", bitmaps, entryBound, 1 << 20},
		{"list-since-bitmap", bitmaps, listingBound, 1 << 20},
		{"list-since-snapshot", hugeL1, listingBound, 1 << 20},
		{"list-full", hugeL1, listingBound, 1 << 20},
		{"list-full", c512, listingBound, 1 << 20},
		// The lists: one copy of the names (the table's size), 150 bytes of
		// fields per entry.
		{"snapshots", snaps, 3 * (table + 65536*150), table + 65536*150},
		{"bitmaps", bitmaps, 3 * (table + 65535*150), table + 65535*150},
	} {
		t.Run(c.op+"/"+filepath.Base(c.path), func(t *testing.T) {
			r := measureMemory(t, c.op, c.path)
			require.Equal(t, "ok", r.err)
			assert.LessOrEqual(t, r.heap, c.heap, "peak heap")
			assert.LessOrEqual(t, r.kept, c.kept, "kept")
		})
	}
}
