package qcow2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHeaderMatchesQemuImgInfo creates images with every header-relevant option
// qemu-img has and compares the decoded header with `qemu-img info`.
func TestHeaderMatchesQemuImgInfo(t *testing.T) {
	needTools(t, "qemu-img")
	dir := t.TempDir()
	base := filepath.Join(dir, "base.qcow2")
	createImage(t, base, "", "4M")
	baseRaw := filepath.Join(dir, "base.raw")
	qemuImg(t, "create", "-q", "-f", "raw", baseRaw, "4M")
	secret := []string{"--object", "secret,id=sec0,data=pass"}

	cases := []struct {
		name    string
		opts    string
		extra   []string
		version uint32
		bits    uint32
		crypt   CryptMethod
	}{
		{"v2", "compat=0.10", nil, 2, 16, CryptNone},
		{"v2-512", "compat=0.10,cluster_size=512", nil, 2, 9, CryptNone},
		{"v3", "", nil, 3, 16, CryptNone},
		{"v3-512", "cluster_size=512", nil, 3, 9, CryptNone},
		{"v3-2M", "cluster_size=2M", nil, 3, 21, CryptNone},
		{"extl2-16k", "extended_l2=on,cluster_size=16k", nil, 3, 14, CryptNone},
		{"extl2-64k", "extended_l2=on", nil, 3, 16, CryptNone},
		{"extl2-2M", "extended_l2=on,cluster_size=2M", nil, 3, 21, CryptNone},
		{"lazy", "lazy_refcounts=on", nil, 3, 16, CryptNone},
		{"zstd", "compression_type=zstd", nil, 3, 16, CryptNone},
		{"refcount1", "refcount_bits=1", nil, 3, 16, CryptNone},
		{"refcount64", "refcount_bits=64", nil, 3, 16, CryptNone},
		{"backing-qcow2", "", []string{"-b", base, "-F", "qcow2"}, 3, 16, CryptNone},
		{"backing-raw", "compat=0.10", []string{"-b", baseRaw, "-F", "raw"}, 2, 16, CryptNone},
		{"data-file", "data_file=" + filepath.Join(dir, "data-file.raw"), nil, 3, 16, CryptNone},
		{"data-file-raw", "data_file=" + filepath.Join(dir, "data-file-raw.raw") + ",data_file_raw=on", nil, 3, 16, CryptNone},
		{"luks", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", secret, 3, 16, CryptLUKS},
		{"aes", "encrypt.format=aes,encrypt.key-secret=sec0", secret, 3, 16, CryptAES},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".qcow2")
			createImageRetry(t, path, c.opts, "4M", c.extra...)
			info := imgInfo(t, path)
			img := openFile(t, path, nil)
			h := img.Header
			d := info.FormatSpecific.Data

			assert.Equal(t, c.version, h.Version)
			assert.Equal(t, map[uint32]string{2: "0.10", 3: "1.1"}[h.Version], d.Compat)
			assert.Equal(t, c.bits, h.ClusterBits)
			assert.Equal(t, info.ClusterSize, h.ClusterSize())
			assert.Equal(t, info.VirtualSize, int64(h.Size))
			assert.Equal(t, d.ExtendedL2, h.ExtendedL2())
			assert.Equal(t, d.LazyRefcounts, h.LazyRefcounts())
			assert.Equal(t, d.Corrupt, h.IncompatibleFeatures&IncompatCorrupt != 0)
			assert.Equal(t, info.DirtyFlag, h.Dirty())
			if h.Version == 3 { // qemu-img info omits refcount-bits for v2, where it is 16
				assert.Equal(t, d.RefcountBits, h.RefcountBits())
				assert.Equal(t, uint32(112), h.HeaderLength, "obs: qemu-img writes header_length 112")
				// obs: qemu-img writes the 384-byte feature name table into v3
				// images, except with 512-byte clusters, where it does not fit.
				assert.Equal(t, h.ClusterBits > 9, len(img.FeatureNames) > 0, "feature name table")
			} else {
				assert.Equal(t, 16, h.RefcountBits())
				assert.Equal(t, uint32(V2HeaderLength), h.HeaderLength)
			}
			assert.Equal(t, d.CompressionType, h.CompressionType.String())
			assert.Equal(t, info.BackingFilename, img.BackingFile)
			assert.Equal(t, info.BackingFilenameFormat, img.BackingFormat)
			assert.Equal(t, d.DataFile, img.DataFile)
			assert.Equal(t, d.DataFile != "", h.ExternalDataFile())
			assert.Equal(t, d.DataFileRaw, h.RawExternalData())
			assert.Equal(t, c.crypt, h.CryptMethod)
			if d.Encrypt != nil {
				assert.Equal(t, d.Encrypt.Format, h.CryptMethod.String())
			}
			assert.Equal(t, h.CryptMethod == CryptLUKS, img.FDE != nil, "FDE pointer extension exactly for LUKS")
			assert.Nil(t, img.BitmapsExt)
			assert.Equal(t, h.L1Size >= uint32(h.L1EntriesFor(int64(h.Size))), true)
			snaps, err := img.Snapshots()
			require.NoError(t, err)
			assert.Empty(t, snaps)
			bms, err := img.Bitmaps()
			require.NoError(t, err)
			assert.Empty(t, bms)
			for _, e := range img.Extensions {
				assert.LessOrEqual(t, e.Offset+int64(e.Length), h.ClusterSize())
			}
		})
	}
}

// TestLazyRefcountsDirty crashes qemu-io (its abort command) after a write on an
// image with lazy refcounts: the dirty bit stays set, qemu-img info says so, and
// the L1/L2 tables still describe the data.
func TestLazyRefcountsDirty(t *testing.T) {
	needTools(t, "qemu-img", "qemu-io")
	path := filepath.Join(t.TempDir(), "lazy.qcow2")
	createImage(t, path, "lazy_refcounts=on", "1M")
	_, _ = runCmdIgnoringExit("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 64k 64k", "-c", "abort", path)
	info := imgInfo(t, path)
	img := openFile(t, path, nil)
	require.True(t, info.DirtyFlag, "qemu-img info should report the dirty flag")
	assert.True(t, img.Header.Dirty())
	assert.True(t, img.Header.LazyRefcounts())
	got := collect(t, img.Allocated(img.ActiveView()))
	assert.Equal(t, qemuMapPresent(t, path), got)
	assert.Equal(t, "[65536, 131072)", got[0].String())
}

func runCmdIgnoringExit(name string, args ...string) ([]byte, error) {
	return execCommand(name, args...).CombinedOutput()
}

// patched returns a copy of the image at path with patch applied.
func patched(t *testing.T, path string, patch func(b []byte)) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	patch(b)
	return b
}

func openBytes(b []byte) (*Image, error) { return Open(bytes.NewReader(b), int64(len(b)), nil) }

// TestHeaderRefusals patches real images and checks that each rule of the
// header is enforced with the right error class and a message that names the
// field; for the feature bits qemu-img refuses the same images.
func TestHeaderRefusals(t *testing.T) {
	needTools(t, "qemu-img")
	dir := t.TempDir()
	v3 := filepath.Join(dir, "v3.qcow2")
	createImage(t, v3, "", "1M")
	v2 := filepath.Join(dir, "v2.qcow2")
	createImage(t, v2, "compat=0.10", "1M")
	be := binary.BigEndian
	incompat := func(bits uint64) func([]byte) {
		return func(b []byte) { be.PutUint64(b[72:], be.Uint64(b[72:])|bits) }
	}
	// Rename the feature table's entry for incompatible bit 4 ("extended l2") to
	// bit 10 with the name "frobnicate".
	nameBit10 := func(b []byte) {
		img, err := openBytes(b)
		require.NoError(t, err)
		for _, e := range img.Extensions {
			if e.Type != ExtFeatureNames {
				continue
			}
			for k := e.Offset; k+48 <= e.Offset+int64(e.Length); k += 48 {
				if b[k] == 0 && b[k+1] == 4 {
					b[k+1] = 10
					copy(b[k+2:k+48], append([]byte("frobnicate"), make([]byte, 36)...))
					return
				}
			}
		}
		t.Fatal("no feature table entry for incompatible bit 4")
	}

	cases := []struct {
		name     string
		path     string
		patch    func([]byte)
		want     error
		contains string
		qemuSays string // what qemu-img info prints for the same image, if it refuses it
	}{
		{"magic", v3, func(b []byte) { b[3] = 0 }, ErrNotQcow2, "magic", "Image is not in qcow2 format"},
		{"version1", v3, func(b []byte) { be.PutUint32(b[4:], 1) }, ErrUnsupported, "version (offset 4) = 1", ""},
		{"version4", v3, func(b []byte) { be.PutUint32(b[4:], 4) }, ErrUnsupported, "version (offset 4) = 4", "Unsupported qcow2 version 4"},
		{"cluster-bits-8", v3, func(b []byte) { be.PutUint32(b[20:], 8) }, ErrCorrupt, "cluster_bits (offset 20) = 8", "Unsupported cluster size"},
		{"cluster-bits-22", v3, func(b []byte) { be.PutUint32(b[20:], 22) }, ErrUnsupported, "cluster_bits (offset 20) = 22", "Unsupported cluster size"},
		{"header-length-odd", v3, func(b []byte) { be.PutUint32(b[100:], 108) }, ErrCorrupt, "header_length (offset 100) = 108", ""},
		{"header-length-short", v3, func(b []byte) { be.PutUint32(b[100:], 96) }, ErrCorrupt, "header_length (offset 100) = 96", "qcow2 header too short"},
		{"refcount-order", v3, func(b []byte) { be.PutUint32(b[96:], 7) }, ErrCorrupt, "refcount_order (offset 96) = 7", "Reference count entry width too large"},
		{"crypt-method", v3, func(b []byte) { be.PutUint32(b[32:], 3) }, ErrUnsupported, "crypt_method (offset 32) = 3", "Unsupported encryption method"},
		{"corrupt-bit", v3, incompat(IncompatCorrupt), ErrCorrupt, `bit 1 ("corrupt bit") set`, ""},
		{"unknown-bit", v3, incompat(1 << 40), ErrUnsupported, "bit 40 (unknown)", "Unsupported qcow2 feature(s): Unknown incompatible feature: 10000000000"},
		{"named-unknown-bit", v3, func(b []byte) { nameBit10(b); incompat(1 << 10)(b) }, ErrUnsupported, `bit 10 ("frobnicate")`, "Unsupported qcow2 feature(s): frobnicate"},
		{"compression-bit-without-type", v3, incompat(IncompatCompressionType), ErrCorrupt, "bit 3 (compression type) is true but compression_type (offset 104) = 0", ""},
		{"compression-type-2", v3, func(b []byte) { b[104] = 2 }, ErrUnsupported, "compression_type (offset 104) = 2", ""},
		{"extended-l2-small-clusters", v3, func(b []byte) { be.PutUint32(b[20:], 13); incompat(IncompatExtendedL2)(b) }, ErrCorrupt, "need cluster_bits >= 14", ""},
		{"raw-external-data-without-data-file", v3, func(b []byte) { be.PutUint64(b[88:], AutoclearRawExternalData) }, ErrCorrupt, "autoclear_features (offset 88)", ""},
		{"size-too-big", v3, func(b []byte) { be.PutUint64(b[24:], 1<<63) }, ErrUnsupported, "size (offset 24)", ""},
		{"l1-too-small", v3, func(b []byte) { be.PutUint64(b[24:], 1<<40) }, ErrCorrupt, "l1_size (offset 36) = 1, but size 1099511627776 needs 2048 entries", ""},
		{"l1-misaligned", v3, func(b []byte) { be.PutUint64(b[40:], be.Uint64(b[40:])+512) }, ErrCorrupt, "L1 table of the active view: offset 0x30200 is not aligned", ""},
		{"l1-beyond-eof", v3, func(b []byte) { be.PutUint64(b[40:], 1<<40) }, ErrCorrupt, "L1 table of the active view at offset 0x10000000000, 1 entries, ends beyond the end of the file", ""},
		{"l1-huge", v3, func(b []byte) { be.PutUint32(b[36:], 1<<23) }, ErrUnsupported, "above QEMU's limit", "Active L1 table too large"},
		{"refcount-table-misaligned", v3, func(b []byte) { be.PutUint64(b[48:], 512) }, ErrCorrupt, "refcount_table_offset (offset 48) = 0x200", ""},
		{"snapshots-beyond-eof", v3, func(b []byte) { be.PutUint32(b[60:], 60000); be.PutUint64(b[64:], 0x10000) }, ErrCorrupt, "cannot hold nb_snapshots = 60000 entries", ""},
		{"too-many-snapshots", v3, func(b []byte) { be.PutUint32(b[60:], MaxSnapshots+1) }, ErrCorrupt, "nb_snapshots (offset 60) = 65537", "Snapshot table too large"},
		{"extension-too-long", v3, func(b []byte) { be.PutUint32(b[112+4:], 1<<20) }, ErrCorrupt, "length 1048576 exceeds", ""},
		{"backing-name-too-long", v3, func(b []byte) { be.PutUint64(b[8:], 0x8000); be.PutUint32(b[16:], 1024) }, ErrCorrupt, "backing_file_size (offset 16) = 1024", "Backing file name too long"},
		{"v2-truncated", v2, nil, ErrCorrupt, "shorter than the 72-byte header", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b []byte
			if c.patch != nil {
				b = patched(t, c.path, c.patch)
			} else {
				b = patched(t, c.path, func([]byte) {})[:60]
			}
			_, err := openBytes(b)
			require.Error(t, err)
			assert.True(t, errors.Is(err, c.want), "error %q should wrap %v", err, c.want)
			assert.Contains(t, err.Error(), c.contains)
			if c.qemuSays != "" {
				p := filepath.Join(t.TempDir(), "patched.qcow2")
				require.NoError(t, os.WriteFile(p, b, 0o644))
				assert.Contains(t, runErr(t, "qemu-img", "info", "-f", "qcow2", p), c.qemuSays)
			}
		})
	}
}
