package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/copier"
)

// ManifestVersion is the version of the manifest format this package
// writes and reads.
const ManifestVersion = 1

// Manifest describes one backup file.
type Manifest struct {
	Version int    `json:"version"`
	File    string `json:"file"`    // the backup file's base name
	Backing string `json:"backing"` // the previous backup's file, relative to this one; "" for a full backup
	Source  string `json:"source"`  // the disk's name
	Scheme  string `json:"scheme"`
	// Capacity is the disk's size at its point, the qcow2 file's virtual size.
	Capacity int64 `json:"capacity"`
	// ChangeID is the disk's point: store it, and pass it as since to the
	// next incremental. Empty when the point can be no base (NoChangeID
	// says why): the next backup must then be a full one.
	ChangeID   string `json:"changeId,omitempty"`
	NoChangeID string `json:"noChangeId,omitempty"`
	// Since is the base this backup holds the changes since; "" for a full
	// backup.
	Since       string            `json:"since,omitempty"`
	Started     time.Time         `json:"started"`
	Finished    time.Time         `json:"finished"`
	ClusterSize int64             `json:"clusterSize"`
	Compression string            `json:"compression"`
	Bytes       int64             `json:"bytes"`     // bytes copied (data and zeros)
	ZeroBytes   int64             `json:"zeroBytes"` // of Bytes, the ones written as zeros
	Extents     []cbt.Extent      `json:"extents"`   // what was copied, aligned to clusters
	Sums        []copier.ChunkSum `json:"sums,omitempty"`
}

// ManifestPath returns the manifest's path of a backup file.
func ManifestPath(file string) string { return file + ".json" }

// ReadManifest reads the manifest of a backup file. Errors:
// cbt.ErrNotFound when it does not exist; cbt.ErrCorrupt when it does not
// decode or is of another version.
func ReadManifest(file string) (*Manifest, error) {
	b, err := os.ReadFile(ManifestPath(file))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%w: backup: %s has no manifest (%s): is it a backup this package wrote?", cbt.ErrNotFound, file, ManifestPath(file))
		}
		return nil, fmt.Errorf("%w: backup: read the manifest of %s: %w", cbt.ErrCorrupt, file, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: backup: manifest %s: %w", cbt.ErrCorrupt, ManifestPath(file), err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("%w: backup: manifest %s is version %d; this package reads version %d", cbt.ErrCorrupt, ManifestPath(file), m.Version, ManifestVersion)
	}
	return &m, nil
}

// writeManifest writes m beside file, through a temporary file renamed
// into place after a sync.
func writeManifest(file string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: encode the manifest: %w", err)
	}
	return writeAtomic(ManifestPath(file), append(b, '\n'))
}

// writeAtomic writes b to path through a temporary file in the same
// directory, synced and renamed into place.
func writeAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup: write %s: %w", path, err)
	}
	return nil
}
