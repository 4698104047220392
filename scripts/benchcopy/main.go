// Command benchcopy is the SDK side of scripts/bench-copy.sh: it takes one
// full backup of a qcow2 image's active state (qemu.OpenActive, then
// backup.Full) into a new qcow2 file and prints the seconds it took.
//
//	go run ./scripts/benchcopy [-workers N] [-chunk BYTES] [-compress zstd|zlib] [-nosync] [-cpuprofile F] SRC DST
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/qemu"
)

func main() {
	workers := flag.Int("workers", 0, "copy workers (0: the default)")
	chunk := flag.Int64("chunk", 0, "chunk size in bytes (0: the default)")
	compress := flag.String("compress", "", "zstd or zlib")
	nosync := flag.Bool("nosync", false, "do not sync the backup file (qemu-img convert does not)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchcopy [-workers N] [-chunk BYTES] [-compress zstd|zlib] SRC DST")
		os.Exit(2)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	d, err := qemu.OpenActive(flag.Arg(0), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer d.Close()
	m, err := backup.Full(context.Background(), d, flag.Arg(1), &backup.Options{
		Workers: *workers, ChunkSize: *chunk, Compression: backup.Compression(*compress), NoChecksums: true, NoSync: *nosync,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	fmt.Printf("%.3f s, %d bytes copied\n", time.Since(start).Seconds(), m.Bytes)
}
