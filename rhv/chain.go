package rhv

// BlankUUID is the parent UUID of a chain's base volume (vdsm's BLANK_UUID).
const BlankUUID = "00000000-0000-0000-0000-000000000000"

// Format is a volume's format: RAW or COW (qcow2).
type Format string

// Volume formats, as vdsm's metadata spells them.
const (
	FormatRAW     Format = "RAW"
	FormatCOW     Format = "COW"
	FormatUnknown Format = "UNKNOWN"
)

// Role is a volume's place in the chain (vdsm VOLTYPE).
type Role string

// Volume roles.
const (
	RoleLeaf     Role = "LEAF"
	RoleInternal Role = "INTERNAL"
	RoleShared   Role = "SHARED" // a template's base volume
)

// Legality is a volume's legality (vdsm LEGALITY; the engine's ILLEGAL image
// status maps to LegalityIllegal).
type Legality string

// Volume legalities.
const (
	LegalityLegal   Legality = "LEGAL"
	LegalityIllegal Legality = "ILLEGAL"
	LegalityFake    Legality = "FAKE"
)

// Volume is one volume of a disk's chain, as one source describes it. A
// field a source does not carry is left zero.
type Volume struct {
	ID     string // volume UUID (engine image_guid, REST disk snapshot id)
	Parent string // parent volume UUID; BlankUUID (or empty) for the base
	Image  string // image UUID: the disk (engine image_group_id)

	Format   Format
	Type     string // PREALLOCATED, SPARSE, ...
	Role     Role
	Legality Legality
	Capacity int64 // virtual size in bytes
	// Generation is vdsm's GEN; Sequence vdsm's SEQ (v5 domains).
	Generation int64
	Sequence   int64
	CTime      int64 // creation time, epoch seconds
	// Description is the metadata's DESCRIPTION (often a JSON alias pair).
	Description string
	// Status is the source's status word where it has one: OK, INVALID,
	// REMOVED (vdsm dump), or the engine's image status name.
	Status string

	// Storage facts of block domains (lvs, metadata slots).
	MDSlot       int    // the MD_ tag's slot; -1 when unknown
	ParentTag    string // the PU_ tag's UUID, to compare with Parent
	Initializing bool   // the LV still has OVIRT_VOL_INITIALIZING
	Removed      bool   // marked _remove_me_ (LV tag or image directory)

	// Extra keeps the keys of a metadata record the reader does not model.
	Extra map[string]string
	// Problems lists what a reader found wrong with this volume's record
	// (a metadata key missing or malformed, a cleared record, no metadata
	// slot); a volume with problems has Status "INVALID".
	Problems []string
	// ChainErrors are the chain errors a source printed for the volume's
	// image, as it printed them (vdsm-tool dump-volume-chains' "Error: ..."
	// lines). BuildChain reports each and never orders such a chain.
	ChainErrors []string
}

// IsBase reports whether v has no parent.
func (v Volume) IsBase() bool { return v.Parent == "" || v.Parent == BlankUUID }

// Chain is one disk's volumes, ordered base first, leaf last, when Ordered
// is true; otherwise (a broken chain) in the order the source listed them.
type Chain struct {
	Image   string
	Volumes []Volume
	// Ordered is true when Volumes is a single line from the base to the
	// leaf (each volume's parent is the one before it).
	Ordered bool
}

// Leaf returns the last volume of an ordered chain.
func (c *Chain) Leaf() (Volume, bool) {
	if !c.Ordered || len(c.Volumes) == 0 {
		return Volume{}, false
	}
	return c.Volumes[len(c.Volumes)-1], true
}

// Index returns the position of the volume id in c.Volumes, or -1.
func (c *Chain) Index(id string) int {
	for i, v := range c.Volumes {
		if v.ID == id {
			return i
		}
	}
	return -1
}
