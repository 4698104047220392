// Package ovirtfake is the test fake of the oVirt engine's REST API and of
// ovirt-imageio that the tests and examples of rhv/engine and rhv/imageio
// share: one httptest server that follows the documented JSON and errors
// (see Fake), with failures to inject and records to check. No engine or
// imageio server can run where the SDK is built.
package ovirtfake
