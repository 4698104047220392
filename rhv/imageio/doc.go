// Package imageio is a client of ovirt-imageio, the server that serves the
// data of an oVirt image transfer: [New] takes the transfer's URL
// (https://host:54322/images/<ticket>, or the engine proxy's on port 54323)
// and returns a [Client] that asks what the ticket offers
// ([Client.Options]) and reads the image's extents ([Client.Extents]):
// [ContextZero] for the allocation, [ContextDirty] for what changed since
// the from-checkpoint of an incremental backup's transfer.
//
// Extents answers are checked (they start at 0, ascend, are contiguous and
// non-empty) and bounded by [Options].MaxExtentsBytes. Certificates are
// checked unless turned off explicitly; requests are retried after a 5xx or
// a transport failure. An error answer is an [HTTPError] wrapped with a cbt
// class. The ticket in the URL is a capability: messages and logs print its
// first 8 characters only.
//
// Package rhv/engine starts the transfers (and the backups they belong to)
// and uses this client for them; the client serves any transfer URL.
//
// Limits: nothing here has run against a real imageio server (none is
// installable where the SDK is built); the client was tested against a
// server that follows imageio's source and documentation.
package imageio
