// Package httpc holds what the two HTTP clients of package rhv share, the
// engine's REST client (rhv/engine) and the ovirt-imageio client
// (rhv/imageio): the check of a server URL, option defaults, the TLS policy
// (certificates checked unless turned off explicitly), sending a request
// with its transport failures classed, the retry loop with a doubling
// backoff, and HTTPError, the error answer of either server.
//
// What each server answers, and which cbt class a status gets, stays with
// its client.
package httpc
