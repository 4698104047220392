package rhv

import "log/slog"

// VolumeOptions tell OpenVolume where the chain's volumes are and how to
// report. A nil *VolumeOptions is refused: the volumes must be found somehow.
type VolumeOptions struct {
	// Path returns the path of a volume's file or block device: on a file
	// domain <domain>/images/<image>/<volume> (ImagesPath), on a block domain
	// the logical volume /dev/<domain>/<volume> (DirPath). When nil, Dir is
	// used.
	Path func(Volume) (string, error)
	// Dir, when Path is nil, is a directory holding every volume of the
	// chain as a file or device named by its volume UUID: the image
	// directory of a file domain (images/<image>), or /dev/<domain> for an
	// activated block domain.
	Dir string
	// Logger receives debug records (the files opened, their backing names)
	// and warnings (an ILLEGAL volume, a capacity that differs from the
	// metadata); nil is silent.
	Logger *slog.Logger
}

// logger returns the logger to use; silent when none is set.
func (o *VolumeOptions) logger() *slog.Logger {
	if o != nil && o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}
