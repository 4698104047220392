package rhv

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/hostfile"
)

const (
	metaExt   = ".meta"  // fileVolume.META_FILEEXT
	leaseExt  = ".lease" // fileVolume's lease sidecar
	removeMe  = "_remove_me_"
	removeMeZ = "_remove_me_ZERO_"
)

// ReadMetaDir reads the volumes of a file domain (NFS, Gluster, POSIX,
// local) from an image directory, <domain>/images/<imgUUID>/, which holds
// each volume <volUUID> beside its metadata <volUUID>.meta. Each .meta is
// parsed with ParseMetadata; the volume's ID is the file name. A directory
// named _remove_me_<imgUUID> (an image being deleted) marks its volumes
// Removed with status REMOVED. When a record lacks IMAGE, the directory
// name gives it.
//
// dir may also be the domain's images/ directory itself (it has
// subdirectories and no .meta file): then every image directory in it is
// read, in name order, so that template volumes, which live in their own
// image directory, are there for BuildChains.
//
// A volume file without a .meta file is listed with status INVALID and a
// problem. A .meta larger than MaxMetadataSize, or one that is no regular
// file (a FIFO, a socket, a device: never opened in a way that could block),
// is a problem, not an error.
//
// Errors: cbt.ErrNotFound when dir does not exist, cbt.ErrUnsupported when
// it cannot be read for permissions, cbt.ErrInvalidArgument when it is not
// a directory, cbt.ErrCorrupt for other I/O errors.
func ReadMetaDir(dir string) ([]Volume, error) {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, readErrorf(cbt.ErrInvalidArgument, dir, "not a directory: give an image directory <domain>/images/<image> or the domain's images directory")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, readFileError(err, "reading the image directory")
	}
	var subdirs []string
	hasMeta := false
	for _, e := range entries {
		if e.IsDir() {
			subdirs = append(subdirs, e.Name())
		} else if strings.HasSuffix(e.Name(), metaExt) {
			hasMeta = true
		}
	}
	if !hasMeta && len(subdirs) > 0 {
		sort.Strings(subdirs)
		var all []Volume
		for _, sub := range subdirs {
			vols, err := readImageDir(filepath.Join(dir, sub), nil)
			if err != nil {
				return nil, err
			}
			all = append(all, vols...)
		}
		return all, nil
	}
	return readImageDir(dir, entries)
}

// readImageDir reads one image directory; entries, when not nil, are its
// entries already listed.
func readImageDir(dir string, entries []os.DirEntry) ([]Volume, error) {
	if entries == nil {
		var err error
		if entries, err = os.ReadDir(dir); err != nil {
			return nil, readFileError(err, "reading the image directory")
		}
	}
	image, removed := imageFromDirName(filepath.Base(dir))
	names := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			names[e.Name()] = true
		}
	}
	var vols []Volume
	for _, e := range entries { // os.ReadDir sorts by name
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if id, ok := strings.CutSuffix(name, metaExt); ok {
			v, err := readMetaFile(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			v.ID = id
			if v.Image == "" {
				v.Image = image
			}
			if removed {
				v.Removed = true
				v.Status = StatusRemoved
			}
			vols = append(vols, v)
			continue
		}
		if strings.HasSuffix(name, leaseExt) || !looksLikeUUID(name) || names[name+metaExt] {
			continue
		}
		v := Volume{ID: name, Image: image, Parent: UnknownParent, MDSlot: -1, Removed: removed, Status: StatusInvalid,
			Problems: []string{"volume file " + name + " has no " + name + metaExt + " metadata file"}}
		vols = append(vols, v)
	}
	return vols, nil
}

// readMetaFile reads and parses one .meta file, reading no more than
// MaxMetadataSize+1 bytes. It never blocks opening it: a .meta that is no
// regular file (a FIFO, a socket, a device) is a problem of the volume, as
// a .meta too large is, and is not read.
func readMetaFile(path string) (Volume, error) {
	f, _, _, err := hostfile.Open(path, hostfile.Regular)
	if err != nil {
		var ke *hostfile.KindError
		if errors.As(err, &ke) {
			return Volume{Parent: UnknownParent, MDSlot: -1, Status: StatusInvalid,
				Problems: []string{"metadata file is " + hostfile.Describe(ke.Mode) + ", not a regular file: not a vdsm record (check what replaced it)"}}, nil
		}
		return Volume{}, readFileError(err, "opening the metadata file")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadataSize+1))
	if err != nil {
		return Volume{}, readFileError(err, "reading "+path)
	}
	if len(data) > MaxMetadataSize {
		return Volume{Parent: UnknownParent, MDSlot: -1, Status: StatusInvalid,
			Problems: []string{"metadata file larger than " + strconv.Itoa(MaxMetadataSize) + " bytes: not a vdsm record"}}, nil
	}
	v, _, err := ParseMetadata(data)
	return v, err
}

// imageFromDirName returns the image UUID an image directory's name gives,
// and whether the directory is marked for removal.
func imageFromDirName(name string) (image string, removed bool) {
	if rest, ok := strings.CutPrefix(name, removeMeZ); ok {
		return rest, true
	}
	if rest, ok := strings.CutPrefix(name, removeMe); ok {
		return rest, true
	}
	return name, false
}

// looksLikeUUID reports whether s has the shape of a UUID: 36 characters,
// hex digits and dashes at 8, 13, 18, 23.
func looksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
