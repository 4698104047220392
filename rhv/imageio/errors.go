package imageio

import "github.com/changedblocks/sdk/rhv/internal/httpc"

// HTTPError is an error answer of imageio (or of the engine: package
// rhv/engine's HTTPError is the same type): its Status, Method and Path (the
// ticket shortened), and Message, the server's plain-text message,
// shortened; the engine's fault fills Reason and Detail instead. Errors of
// this package wrap it with a cbt class; reach it with errors.As.
type HTTPError = httpc.HTTPError
