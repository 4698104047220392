//go:build cgo

package libvirt

import (
	"errors"
	"fmt"
	"strings"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/changedblocks/sdk/cbt"
)

// classify wraps a libvirt error with the cbt class it belongs to, keeping
// the *golibvirt.Error reachable with errors.As. what says what was being
// done ("creating checkpoint c1 of domain vm1").
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var le golibvirt.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("libvirt: %s: %w", what, err)
	}
	msg := le.Message
	class, advice := cbt.ErrCorrupt, ""
	switch le.Code {
	case golibvirt.ERR_NO_DOMAIN:
		class, advice = cbt.ErrNotFound, "list the domains again"
	case golibvirt.ERR_NO_DOMAIN_CHECKPOINT:
		class, advice = cbt.ErrNotFound, ""
	case golibvirt.ERR_NO_DOMAIN_SNAPSHOT:
		class = cbt.ErrNotFound
	case golibvirt.ERR_CHECKPOINT_INCONSISTENT:
		class, advice = cbt.ErrChangeIDInvalid, "the checkpoint's bitmap is missing or was not saved cleanly (qemu crashed or the image was edited): take a full backup, then delete the broken checkpoints (metadata only if their bitmaps are gone)"
	case golibvirt.ERR_NO_SUPPORT, golibvirt.ERR_OPERATION_UNSUPPORTED:
		class = cbt.ErrUnsupported
	case golibvirt.ERR_OPERATION_TIMEOUT:
		class, advice = cbt.ErrBusy, "another operation holds the domain; retry later"
	case golibvirt.ERR_INVALID_ARG, golibvirt.ERR_XML_ERROR, golibvirt.ERR_XML_DETAIL:
		class = cbt.ErrInvalidArgument
	case golibvirt.ERR_OPERATION_INVALID:
		class = cbt.ErrInvalidArgument
		switch {
		case strings.Contains(msg, "job") || strings.Contains(msg, "backup"):
			class, advice = cbt.ErrBusy, "another job (a backup, a block job) runs on the domain; wait for it to end or abort it"
		case strings.Contains(msg, "not running") || strings.Contains(msg, "inactive"):
			advice = "start the domain (paused is enough), or list it shut off"
		}
	case golibvirt.ERR_AUTH_FAILED, golibvirt.ERR_AUTH_CANCELLED, golibvirt.ERR_ACCESS_DENIED:
		class, advice = cbt.ErrInvalidArgument, "check the credentials and the access rights of this user on the libvirt URI"
	case golibvirt.ERR_NO_CONNECT, golibvirt.ERR_SYSTEM_ERROR, golibvirt.ERR_RPC:
		class, advice = cbt.ErrBusy, "libvirtd did not answer: check that it runs and that this process may use its socket"
	}
	if strings.Contains(msg, "Permission denied") && strings.Contains(msg, "socket") {
		advice = "qemu could not create the NBD socket: give its user access to the socket directory (DiskOptions.SocketDir, DirOwner)"
	}
	if advice != "" {
		return fmt.Errorf("%w: libvirt: %s: %w (%s)", class, what, err, advice)
	}
	return fmt.Errorf("%w: libvirt: %s: %w", class, what, err)
}

// isCode reports whether err is a libvirt error with the code given.
func isCode(err error, code golibvirt.ErrorNumber) bool {
	var le golibvirt.Error
	return errors.As(err, &le) && le.Code == code
}

func isChangeIDInvalid(err error) bool { return errors.Is(err, cbt.ErrChangeIDInvalid) }

func mentionsBitmap(err error) bool {
	var le golibvirt.Error
	return errors.As(err, &le) && strings.Contains(strings.ToLower(le.Message), "bitmap")
}
