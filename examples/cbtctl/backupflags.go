package main

import (
	"context"
	"flag"
	"io"

	"github.com/changedblocks/sdk/backup"
	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/copier"
)

// backupFlags are the flags every "backup" subcommand takes besides the
// base (--since/--full) and the output format.
type backupFlags struct {
	out, backing, compress string
	workers                int
	chunk, cluster         int64
}

func (b *backupFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.out, "out", "", "the new backup `FILE` (.qcow2); it must not exist")
	fs.StringVar(&b.backing, "backing", "", "with --since: the previous backup `FILE` of the chain, the overlay's backing file")
	fs.IntVar(&b.workers, "workers", 0, "`N` parallel readers (default 4)")
	fs.Var(sizeValue{&b.chunk}, "chunk", "read `SIZE` per request (default 1M)")
	fs.Var(sizeValue{&b.cluster}, "cluster-size", "cluster `SIZE` of the backup file (default 64k)")
	fs.StringVar(&b.compress, "compress", "", "compress the backup's clusters: `ALGO` zstd or zlib")
}

// check returns the usage error of the backup flags given f's base, or "".
func (b *backupFlags) check(f changesFlags) string {
	switch {
	case b.out == "":
		return "--out FILE.qcow2 is required: the new backup file"
	case f.since.set && b.backing == "":
		return "--since needs --backing PREV.qcow2: the previous backup, which holds the point --since names"
	case f.full && b.backing != "":
		return "--full writes a standalone file: leave --backing out"
	case b.compress != "" && b.compress != "zstd" && b.compress != "zlib":
		return `--compress "` + b.compress + `": want zstd or zlib`
	}
	return ""
}

// runBackup writes the backup of disk since the base (zero: a full one)
// and prints its manifest: the body of every "backup" subcommand.
func runBackup(ctx context.Context, stdout, stderr io.Writer, cmd string, disk *cbt.Disk, since cbt.ChangeID, b *backupFlags, f changesFlags, hint func(error) string) int {
	opts := &backup.Options{Workers: b.workers, ChunkSize: b.chunk, ClusterSize: b.cluster, Compression: backup.Compression(b.compress)}
	var bar *progressBar
	if f.progress.enabled(stdout, stderr) {
		bar = newProgressBar(stderr)
		opts.Progress = func(p copier.Progress) { bar.update(cbt.Progress{Scanned: p.Done, Total: p.Total, Changed: p.Done}) }
	}
	var m *backup.Manifest
	var err error
	if since.IsZero() {
		m, err = backup.Full(ctx, disk, b.out, opts)
	} else {
		m, err = backup.Incremental(ctx, disk, since, b.out, b.backing, opts)
	}
	bar.finish(err == nil)
	if err != nil {
		return reportErrorHint(ctx, stderr, cmd, err, "", hint)
	}
	return printManifest(stdout, stderr, cmd, b.out, m, f.format.json())
}
