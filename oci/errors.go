package oci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/changedblocks/sdk/cbt"
)

// serviceError returns the OCI service error err carries, if any. Every
// error of this package that comes from the service wraps it, so that
//
//	var se common.ServiceError
//	if errors.As(err, &se) { ... se.GetHTTPStatusCode(), se.GetCode(), se.GetOpcRequestID() ... }
//
// reaches it.
func serviceError(err error) (common.ServiceError, bool) {
	var se common.ServiceError
	if errors.As(err, &se) {
		return se, true
	}
	return nil, false
}

// statusOf returns the HTTP status of a service error, or 0.
func statusOf(err error) int {
	if se, ok := serviceError(err); ok {
		return se.GetHTTPStatusCode()
	}
	return 0
}

// transient reports whether a failed call may succeed when sent again: 429,
// 5xx but 501, or a network error.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if se, ok := serviceError(err); ok {
		c := se.GetHTTPStatusCode()
		return c == http.StatusTooManyRequests || c >= 500 && c != http.StatusNotImplemented
	}
	return common.IsNetworkError(err)
}

// classFor returns the class of a failed call: overrides by status first,
// then the defaults (400 invalid argument, 401 invalid argument, 404 not
// found, 409 and 429 busy). It returns nil for no class.
func classFor(err error, overrides map[int]error) error {
	c := statusOf(err)
	if cls, ok := overrides[c]; ok {
		return cls
	}
	switch {
	case c == http.StatusBadRequest, c == http.StatusUnauthorized:
		return cbt.ErrInvalidArgument
	case c == http.StatusNotFound:
		return cbt.ErrNotFound
	case c == http.StatusConflict, c == http.StatusTooManyRequests, c == http.StatusServiceUnavailable:
		return cbt.ErrBusy
	case c == http.StatusNotImplemented:
		return cbt.ErrUnsupported
	}
	return nil
}

// callError wraps the error of an OCI call: context errors as they are
// (when ctx is done), others with their class and what was done.
func callError(ctx context.Context, err error, overrides map[int]error, format string, args ...any) error {
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, cerr) || errors.Is(err, common.DeadlineExceededByBackoff)) {
		return cerr
	}
	if errors.Is(err, common.DeadlineExceededByBackoff) {
		return fmt.Errorf("oci: "+format+": the context's deadline comes before the next retry: %w", append(args, context.DeadlineExceeded)...)
	}
	msg := fmt.Sprintf(format, args...)
	if cls := classFor(err, overrides); cls != nil {
		return fmt.Errorf("%w: oci: %s: %w", cls, msg, err)
	}
	return fmt.Errorf("oci: %s: %w", msg, err)
}
