package oci

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
)

// maxBackoff caps the pause between two retries of a failed call.
const maxBackoff = 30 * time.Second

// policySpec says when a call is sent again. The Go SDK has no waiters: its
// own recipe for waiting on a state is a RetryPolicy whose
// ShouldRetryOperation returns true while the state is not reached. The
// policy must start from DefaultRetryPolicyWithoutEventualConsistency: on top
// of the default policy (with eventual consistency) a custom
// ShouldRetryOperation is ignored.
type policySpec struct {
	ctx context.Context
	// retries and backoff bound the retries of transient failures (429, 5xx
	// but 501, network errors).
	retries int
	backoff time.Duration
	// busyUntil, when set, retries 409 Conflict until then, every interval.
	busyUntil time.Time
	// pending, when set, polls every interval until it returns false for a
	// successful response, or until pollUntil.
	pending   func(common.OCIResponse) bool
	pollUntil time.Time
	interval  time.Duration
}

// policy builds the request's RetryPolicy.
func (s policySpec) policy() *common.RetryPolicy {
	transients := 0
	lastTransient := false
	should := func(r common.OCIOperationResponse) bool {
		lastTransient = false
		if s.ctx.Err() != nil {
			return false
		}
		now := time.Now()
		switch {
		case r.Error == nil:
			if s.pending == nil || r.Response == nil || !s.pending(r.Response) {
				return false
			}
			return now.Before(s.pollUntil)
		case transient(r.Error):
			transients++
			lastTransient = true
			return transients <= s.retries
		case statusOf(r.Error) == http.StatusConflict && !s.busyUntil.IsZero():
			return now.Before(s.busyUntil)
		}
		return false
	}
	next := func(r common.OCIOperationResponse) time.Duration {
		if !lastTransient {
			return s.interval
		}
		d := s.backoff << min(transients-1, 20)
		d = min(d, maxBackoff)
		// Up to 25% jitter, so that many clients do not retry in step.
		return d + time.Duration(rand.Int64N(int64(d)/4+1))
	}
	p := common.NewRetryPolicyWithOptions(
		common.ReplaceWithValuesFromRetryPolicy(common.DefaultRetryPolicyWithoutEventualConsistency()),
		// Unlimited here: should bounds the attempts by count and by time.
		common.WithMaximumNumberAttempts(0),
		common.WithShouldRetryOperation(should),
		common.WithNextDuration(next),
	)
	return &p
}
