package rhv

import (
	"fmt"
	"path/filepath"

	"github.com/changedblocks/sdk/cbt"
)

// DirPath returns a VolumeOptions.Path that finds every volume as
// dir/<volume UUID>: an image directory of a file domain, or /dev/<domain
// UUID> on a host where the block domain's logical volumes are active.
// The function returns cbt.ErrInvalidArgument for a volume ID that is not
// a plain name (a UUID): one that could leave dir ("..", "/").
func DirPath(dir string) func(Volume) (string, error) {
	return func(v Volume) (string, error) {
		if err := checkVolumeRef(v.ID, "volume"); err != nil {
			return "", err
		}
		return filepath.Join(dir, v.ID), nil
	}
}

// ImagesPath returns a VolumeOptions.Path for a file domain: every volume is
// images/<image UUID>/<volume UUID> below imagesDir (the domain's "images"
// directory, such as /rhev/data-center/mnt/<mount>/<domain>/images).
// OpenVolume fills the image UUID of a volume that has none from
// Chain.Image. This also finds a template's base volume, which lives in the
// template's image. The function returns cbt.ErrInvalidArgument
// for a volume or image ID that is not a plain name.
func ImagesPath(imagesDir string) func(Volume) (string, error) {
	return func(v Volume) (string, error) {
		if err := checkVolumeRef(v.ID, "volume"); err != nil {
			return "", err
		}
		if v.Image == "" {
			return "", fmt.Errorf("%w: rhv: volume %s has no image UUID; set VolumeOptions.Path to find it", cbt.ErrInvalidArgument, v.ID)
		}
		if err := checkVolumeRef(v.Image, "image"); err != nil {
			return "", err
		}
		return filepath.Join(imagesDir, v.Image, v.ID), nil
	}
}
