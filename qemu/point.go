package qemu

import (
	"fmt"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// Scheme is the change-ID scheme of qcow2 points.
const Scheme = "qcow2"

// PointKind says what a Point names.
type PointKind uint8

// Point kinds.
const (
	PointActive   PointKind = iota // the image as it is now
	PointSnapshot                  // an internal snapshot, by name or id
	PointBitmap                    // a persistent dirty bitmap (a base only)
	PointLayer                     // a backing file of the chain
)

func (k PointKind) String() string {
	switch k {
	case PointActive:
		return "active"
	case PointSnapshot:
		return "snapshot"
	case PointBitmap:
		return "bitmap"
	case PointLayer:
		return "layer"
	}
	return fmt.Sprintf("PointKind(%d)", uint8(k))
}

// Point is a point in time of a qcow2 image: the active state, an internal
// snapshot, a persistent dirty bitmap or a backing layer. Its string form is
// the value of its change ID: "active", "snapshot:NAME", "bitmap:NAME" or
// "layer:PATH".
type Point struct {
	Kind PointKind
	// Name is the snapshot name or id, the bitmap name or the layer path;
	// empty for PointActive.
	Name string
}

// Active is the point of the image as it is now.
func Active() Point { return Point{Kind: PointActive} }

// SnapshotPoint is the point of an internal snapshot, by name or id,
// optionally followed by the "#SEC.NSEC" creation-date guard that
// Snapshot.Point carries (see the package documentation).
func SnapshotPoint(nameOrID string) Point { return Point{Kind: PointSnapshot, Name: nameOrID} }

// BitmapPoint is the point a persistent dirty bitmap started recording at.
func BitmapPoint(name string) Point { return Point{Kind: PointBitmap, Name: name} }

// LayerPoint is the point of a backing file of the chain: a path, absolute
// or relative to the working directory, or the name the overlay records,
// optionally followed by the "#SEC.NSEC" modification-time guard that
// Layer.Point carries (see the package documentation).
func LayerPoint(path string) Point { return Point{Kind: PointLayer, Name: path} }

// String returns the point's change-ID value: "active", "snapshot:NAME",
// "bitmap:NAME" or "layer:PATH".
func (p Point) String() string {
	if p.Kind == PointActive {
		return "active"
	}
	return p.Kind.String() + ":" + p.Name
}

// ChangeID returns the point as a change ID of scheme "qcow2". It returns
// cbt.ErrInvalidArgument for a point without a name (but for PointActive).
func (p Point) ChangeID() (cbt.ChangeID, error) {
	if err := p.check(); err != nil {
		return cbt.ChangeID{}, err
	}
	return cbt.NewChangeID(Scheme, p.String())
}

func (p Point) check() error {
	switch p.Kind {
	case PointActive:
		if p.Name != "" {
			return fmt.Errorf("%w: qemu: the active point has no name (got %q)", cbt.ErrInvalidArgument, p.Name)
		}
		return nil
	case PointSnapshot, PointBitmap, PointLayer:
		if p.Name == "" {
			return fmt.Errorf("%w: qemu: a %s point needs a name", cbt.ErrInvalidArgument, p.Kind)
		}
		return nil
	}
	return fmt.Errorf("%w: qemu: unknown point kind %d", cbt.ErrInvalidArgument, uint8(p.Kind))
}

// ParsePoint parses the string form of a point: "active",
// "snapshot:NAME_OR_ID", "bitmap:NAME" or "layer:PATH". A "qcow2:" prefix (a
// whole change ID) is accepted too. It returns cbt.ErrInvalidArgument for
// anything else.
func ParsePoint(s string) (Point, error) {
	v := strings.TrimPrefix(s, Scheme+":")
	if v == "active" {
		return Active(), nil
	}
	kind, name, ok := strings.Cut(v, ":")
	var p Point
	switch kind {
	case "snapshot":
		p = SnapshotPoint(name)
	case "bitmap":
		p = BitmapPoint(name)
	case "layer":
		p = LayerPoint(name)
	default:
		ok = false
	}
	if !ok {
		return Point{}, fmt.Errorf("%w: qemu: point %q is not active, snapshot:NAME, bitmap:NAME or layer:PATH", cbt.ErrInvalidArgument, s)
	}
	if err := p.check(); err != nil {
		return Point{}, err
	}
	return p, nil
}

// PointOf returns the point a change ID of scheme "qcow2" names. A change ID
// of another scheme, or a malformed value, gives cbt.ErrInvalidArgument.
func PointOf(id cbt.ChangeID) (Point, error) {
	if id.Scheme() != Scheme {
		return Point{}, fmt.Errorf("%w: qemu: change ID %q is not of scheme %q", cbt.ErrInvalidArgument, id.String(), Scheme)
	}
	return ParsePoint(id.Value())
}
