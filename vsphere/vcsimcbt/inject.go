package vcsimcbt

import (
	"github.com/vmware/govmomi/vim25/types"
)

// rule is one injected failure.
type rule struct {
	call    int
	fault   types.BaseMethodFault
	msg     string
	rewrite func(types.DiskChangeInfo) types.DiskChangeInfo
}

// FailCall makes the nth QueryChangedDiskAreas call the Tracker receives
// (1-based, counted as Calls counts them) fail with fault and message msg,
// before anything else is checked. Several rules may target different calls
// (of two for the same call, the first added wins); a rule for a call
// already made never fires. Use the constructors of this
// package (FileFault, InvalidArgument, NotFound, SystemError,
// NotAuthenticated) or any other vim fault. An injected NotAuthenticated also
// logs the client's session out, as an expired session would be: the client
// has to log in again before its next call.
func (t *Tracker) FailCall(n int, fault types.BaseMethodFault, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = append(t.rules, rule{call: n, fault: fault, msg: msg})
}

// FailNext makes the next QueryChangedDiskAreas call fail with fault: FailCall
// with n = Calls()+1.
func (t *Tracker) FailNext(fault types.BaseMethodFault, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = append(t.rules, rule{call: t.calls + 1, fault: fault, msg: msg})
}

// RewriteCall makes the model's answer to the nth QueryChangedDiskAreas call
// pass through f before it is returned (if that call is answered at all). It
// is not ESXi behaviour: it lets a test check a client's guards against a
// broken server, such as a window that does not advance (Length 0), extents
// outside the window, or overlapping extents.
func (t *Tracker) RewriteCall(n int, f func(types.DiskChangeInfo) types.DiskChangeInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rules = append(t.rules, rule{call: n, rewrite: f})
}

// Calls returns how many QueryChangedDiskAreas calls the Tracker has received
// since New or the last ResetCalls, failed ones included.
func (t *Tracker) Calls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls
}

// ResetCalls sets the call count to zero and drops pending FailCall rules.
func (t *Tracker) ResetCalls() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls = 0
	t.rules = nil
}

// take counts one call and returns the rules for it: the injected fault (the
// first FailCall or FailNext for the call) and the rewrites, in the order
// they were added. The caller holds t.mu.
func (t *Tracker) take() (n int, fail *rule, rewrites []func(types.DiskChangeInfo) types.DiskChangeInfo) {
	t.calls++
	kept := t.rules[:0]
	for _, r := range t.rules {
		switch {
		case r.call != t.calls:
			kept = append(kept, r)
		case r.rewrite != nil:
			rewrites = append(rewrites, r.rewrite)
		case fail == nil:
			fail = &r
		}
	}
	t.rules = kept
	return t.calls, fail, rewrites
}
