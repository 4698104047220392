package qcow2write_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/changedblocks/sdk/internal/qcow2"
	"github.com/changedblocks/sdk/internal/qcow2write"
)

// An overlay of a 1 MiB disk: one data cluster, one zero cluster that hides
// the backing file there, the rest read from base.qcow2.
func Example() {
	dir, _ := os.MkdirTemp("", "qcow2write")
	defer os.RemoveAll(dir)
	f, _ := os.Create(filepath.Join(dir, "inc.qcow2"))
	defer f.Close()

	w, err := qcow2write.New(f, 1<<20, &qcow2write.Options{BackingFile: "base.qcow2", BackingFormat: "qcow2"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = w.WriteCluster(0, bytes.Repeat([]byte{0xab}, int(w.ClusterSize())))
	_ = w.WriteZeros(w.ClusterSize(), w.ClusterSize())
	if err := w.Close(); err != nil {
		fmt.Println(err)
		return
	}

	st, _ := f.Stat()
	img, _ := qcow2.Open(f, st.Size(), nil)
	fmt.Println("backing:", img.BackingFile, img.BackingFormat)
	for c, err := range img.Clusters(img.ActiveView()) {
		if err == nil {
			fmt.Println(c.GuestOffset, c.Kind)
		}
	}
	// Output:
	// backing: base.qcow2 qcow2
	// 0 data
	// 65536 zero
}
