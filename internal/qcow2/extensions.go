package qcow2

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Header extension types.
const (
	ExtEnd           uint32 = 0x00000000
	ExtBackingFormat uint32 = 0xe2792aca
	ExtFeatureNames  uint32 = 0x6803f857
	ExtBitmaps       uint32 = 0x23852875
	ExtFDE           uint32 = 0x0537be77 // full disk encryption header pointer
	ExtDataFile      uint32 = 0x44415441 // external data file name
)

// Extension is one header extension as found in the file: its type, the file
// offset of its data and the length of the data. Image.Extensions lists every
// extension, known or not, in file order; the known ones are also decoded into
// fields of Image.
type Extension struct {
	Type   uint32
	Offset int64 // file offset of the extension's data
	Length uint32
}

// FeatureType selects the feature bitmap a FeatureName entry describes.
type FeatureType uint8

// Feature types.
const (
	FeatureIncompatible FeatureType = 0
	FeatureCompatible   FeatureType = 1
	FeatureAutoclear    FeatureType = 2
)

// FeatureName is one entry of the feature name table extension: the image's own
// name for a feature bit, used in error messages about bits this package does
// not know.
type FeatureName struct {
	Type FeatureType
	Bit  uint8
	Name string
}

// BitmapsExtension is the bitmaps header extension: where the bitmap directory
// is. It is decoded as stored; Image.Bitmaps checks it.
type BitmapsExtension struct {
	NbBitmaps       uint32
	Reserved        uint32
	DirectorySize   uint64
	DirectoryOffset uint64
}

// FDEPointer is the full disk encryption header pointer extension (LUKS): where
// the encryption header is. This package does not read it.
type FDEPointer struct {
	Offset uint64
	Length uint64
}

const extHeaderLen = 8

// parseExtensions decodes the header extensions in area, which starts at file
// offset base.
func (img *Image) parseExtensions(area []byte, base int64) error {
	be := binary.BigEndian
	seen := map[uint32]bool{}
	off := 0
	for off+extHeaderLen <= len(area) {
		typ := be.Uint32(area[off:])
		n := be.Uint32(area[off+4:])
		at := base + int64(off)
		if typ == ExtEnd {
			return nil
		}
		if uint64(n) > uint64(len(area)-off-extHeaderLen) {
			return atErr(ErrCorrupt, uint64(at), fmt.Sprintf("header extension %#08x", typ), "length %d exceeds the %d bytes left in the header extension area", n, len(area)-off-extHeaderLen)
		}
		data := area[off+extHeaderLen : off+extHeaderLen+int(n)]
		img.Extensions = append(img.Extensions, Extension{Type: typ, Offset: at + extHeaderLen, Length: n})
		switch typ {
		case ExtBackingFormat, ExtFeatureNames, ExtBitmaps, ExtFDE, ExtDataFile:
			if seen[typ] {
				return formatErr(ErrCorrupt, at, fmt.Sprintf("header extension %#08x", typ), nil, "header extension %#08x appears twice (again at offset %d)", typ, at)
			}
			seen[typ] = true
		}
		switch typ {
		case ExtBackingFormat:
			img.BackingFormat = string(data)
		case ExtDataFile:
			img.DataFile = string(data)
		case ExtFeatureNames:
			for k := 0; k+48 <= len(data); k += 48 {
				name := data[k+2 : k+48]
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				img.FeatureNames = append(img.FeatureNames, FeatureName{Type: FeatureType(data[k]), Bit: data[k+1], Name: string(name)})
			}
		case ExtBitmaps:
			if n != 24 {
				return atErr(ErrCorrupt, uint64(at), "bitmaps extension", "length %d, want 24", n)
			}
			img.BitmapsExt = &BitmapsExtension{
				NbBitmaps:       be.Uint32(data[0:]),
				Reserved:        be.Uint32(data[4:]),
				DirectorySize:   be.Uint64(data[8:]),
				DirectoryOffset: be.Uint64(data[16:]),
			}
		case ExtFDE:
			if n != 16 {
				return atErr(ErrCorrupt, uint64(at), "full disk encryption header pointer extension", "length %d, want 16", n)
			}
			img.FDE = &FDEPointer{Offset: be.Uint64(data[0:]), Length: be.Uint64(data[8:])}
		}
		off += extHeaderLen + int(n+7)&^7
	}
	// The area ended without a terminator: QEMU accepts that when the area is
	// used up exactly (or only padding is left), and so do we.
	return nil
}
