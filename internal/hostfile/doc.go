// Package hostfile opens files whose paths come from outside the program (a
// backing-file name read from an image header, a volume path in RHV
// metadata, a command-line argument) without ever blocking in the open: the
// file is opened non-blocking, its kind checked on the open descriptor, and a
// kind the caller did not allow (a FIFO, a socket, a character device, a
// directory) is refused with a *KindError before anything reads from it. A
// FIFO opened the ordinary way blocks until a writer appears, forever if none
// does.
//
// It holds no platform policy: callers decide which kinds they accept (a
// block device for an RHV block domain, regular files elsewhere) and which
// error class a refusal is.
package hostfile
