package engine

import (
	"encoding/json"
	"net/http"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/rhv/internal/httpc"
)

// HTTPError is an error answer of the engine (or of imageio: package
// rhv/imageio's HTTPError is the same type): its Status, Method and Path
// (the resource, without the host), and what the server said. The
// engine's fault ({"reason": ..., "detail": ...}) fills Reason ("Operation
// Failed") and Detail ("[Cannot backup VM. ...]"); another body fills
// Message, shortened. Errors of this package wrap it with a cbt class;
// reach it with errors.As.
type HTTPError = httpc.HTTPError

// fault decodes an engine error body: {"reason","detail"} at the top
// (the JSON form drops the <fault> root) or under "fault" (an action's
// answer). ok is false when the body is not such JSON.
func fault(body []byte) (reason, detail string, ok bool) {
	var f struct {
		Reason string `json:"reason"`
		Detail string `json:"detail"`
		Fault  *struct {
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"fault"`
	}
	if json.Unmarshal(body, &f) != nil {
		return "", "", false
	}
	if f.Fault != nil {
		f.Reason, f.Detail = f.Fault.Reason, f.Fault.Detail
	}
	if f.Reason == "" && f.Detail == "" {
		return "", "", false
	}
	return httpc.OneLine([]byte(f.Reason)), httpc.OneLine([]byte(f.Detail)), true
}

// statusClass maps an engine HTTP status to a cbt class, advice, and
// whether the request may be retried.
func statusClass(status int) (advice string, retry bool, cls error) {
	switch {
	case status == http.StatusNotFound:
		return " (the VM, disk, backup or transfer does not exist, or the user may not see it)", false, cbt.ErrNotFound
	case status == http.StatusConflict:
		return " (another operation holds the VM or disk, such as a backup in progress: finalize it or wait, then try again)", false, cbt.ErrBusy
	case status == http.StatusUnauthorized:
		return " (the engine refused the credentials or the token expired: log in again)", false, cbt.ErrInvalidArgument
	case status == http.StatusForbidden:
		return " (the user lacks the permission: grant the backup role on the VM)", false, cbt.ErrUnsupported
	case status == http.StatusBadRequest:
		return "", false, cbt.ErrInvalidArgument
	case status >= 500:
		return " (the engine failed, which may pass: try again later)", true, cbt.ErrBusy
	}
	return "", false, cbt.ErrUnsupported
}
