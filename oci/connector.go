package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/changedblocks/sdk/cbt"
)

// Connector logs the instance in to an attached volume and out again.
//
// Connect returns the path of the volume's block device once it exists.
// Disconnect is called after every Connect, also one that failed part way,
// so it must tolerate a target it is not logged in to.
type Connector interface {
	Connect(ctx context.Context, a Attachment) (devicePath string, err error)
	Disconnect(ctx context.Context, a Attachment) error
}

// IscsiadmConnector runs the iscsiadm steps of the OCI documentation for an
// iSCSI attachment with CHAP (open-iscsi must be installed, and the program
// run as root):
//
//	iscsiadm -m node -o new -T <IQN> -p <address>:<port>
//	iscsiadm -m node -T <IQN> -p <address>:<port> -o update -n node.session.auth.authmethod -v CHAP
//	iscsiadm -m node -T <IQN> -p <address>:<port> -o update -n node.session.auth.username -v <user>
//	iscsiadm -m node -T <IQN> -p <address>:<port> -o update -n node.session.auth.password -v <secret>
//	iscsiadm -m node -T <IQN> -p <address>:<port> -l
//
// and to disconnect, "-u" (log out) then "-o delete". The device is the
// udev link /dev/disk/by-path/ip-<address>:<port>-iscsi-<IQN>-lun-<LUN>.
// The CHAP secret is an argument of iscsiadm, as the documentation has it
// (visible to other local users in the process list while it runs); it is
// never part of an error or a log record.
type IscsiadmConnector struct {
	// Program is the iscsiadm to run; default "iscsiadm" from PATH.
	Program string
	// Run runs a command and returns its combined output; nil runs it with
	// os/exec. Tests replace it.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
	// DeviceDir holds the by-path links; default /dev/disk/by-path.
	DeviceDir string
	// LUN is the volume's LUN; default 1, OCI's.
	LUN int
	// DeviceTimeout bounds the wait for the link after the login; default 1 min.
	DeviceTimeout time.Duration
}

func (c *IscsiadmConnector) program() string {
	if c.Program != "" {
		return c.Program
	}
	return "iscsiadm"
}

func (c *IscsiadmConnector) run(ctx context.Context, secret string, args ...string) error {
	run := c.Run
	if run == nil {
		run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
			return exec.CommandContext(ctx, name, args...).CombinedOutput()
		}
	}
	out, err := run(ctx, c.program(), args...)
	if err == nil {
		return nil
	}
	shown := make([]string, len(args))
	for i, a := range args {
		if secret != "" && a == secret {
			a = "<secret>"
		}
		shown[i] = a
	}
	msg := strings.TrimSpace(string(bytes.ToValidUTF8(out, nil)))
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "<secret>")
	}
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	if msg != "" {
		msg = ": " + msg
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: oci: %s %s: %w (install open-iscsi, or give Options.Connector)", cbt.ErrUnsupported, c.program(), strings.Join(shown, " "), err)
	}
	return fmt.Errorf("oci: %s %s: %w%s", c.program(), strings.Join(shown, " "), err, msg)
}

// DevicePath returns the by-path link of an attachment's LUN.
func (c *IscsiadmConnector) DevicePath(a Attachment) string {
	dir := c.DeviceDir
	if dir == "" {
		dir = "/dev/disk/by-path"
	}
	lun := c.LUN
	if lun <= 0 {
		lun = 1
	}
	return filepath.Join(dir, fmt.Sprintf("ip-%s:%d-iscsi-%s-lun-%d", a.Address, a.Port, a.IQN, lun))
}

func portal(a Attachment) string { return a.Address + ":" + strconv.Itoa(a.Port) }

// Connect logs in with CHAP and waits for the device link.
//
// Errors: cbt.ErrUnsupported when iscsiadm is missing; cbt.ErrBusy when the
// device does not appear in time; iscsiadm's failures unclassified.
func (c *IscsiadmConnector) Connect(ctx context.Context, a Attachment) (string, error) {
	if strings.ContainsAny(a.IQN+a.Address, "/ \x00") {
		return "", fmt.Errorf("%w: oci: attachment %s has an unusable IQN or address", cbt.ErrCorrupt, a.ID)
	}
	node := []string{"-m", "node", "-T", a.IQN, "-p", portal(a)}
	steps := [][]string{{"-m", "node", "-o", "new", "-T", a.IQN, "-p", portal(a)}}
	if a.ChapUsername != "" {
		steps = append(steps,
			append(node[:6:6], "-o", "update", "-n", "node.session.auth.authmethod", "-v", "CHAP"),
			append(node[:6:6], "-o", "update", "-n", "node.session.auth.username", "-v", a.ChapUsername),
			append(node[:6:6], "-o", "update", "-n", "node.session.auth.password", "-v", a.ChapSecret))
	}
	steps = append(steps, append(node[:6:6], "-l"))
	for _, args := range steps {
		if err := c.run(ctx, a.ChapSecret, args...); err != nil {
			return "", err
		}
	}
	path := c.DevicePath(a)
	wait := c.DeviceTimeout
	if wait <= 0 {
		wait = time.Minute
	}
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(path); err == nil {
			return path, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: oci: logged in to %s, but %s did not appear within %v", cbt.ErrBusy, a.IQN, path, wait)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Disconnect logs out and deletes the node record. A session or record
// that does not exist (iscsiadm exit status 21) is no error.
//
// Errors: iscsiadm's failures, unclassified.
func (c *IscsiadmConnector) Disconnect(ctx context.Context, a Attachment) error {
	node := []string{"-m", "node", "-T", a.IQN, "-p", portal(a)}
	var errs []error
	for _, args := range [][]string{append(node[:6:6], "-u"), append(node[:6:6], "-o", "delete")} {
		if err := c.run(ctx, "", args...); err != nil && !noObjects(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// noObjects reports iscsiadm's exit status 21, ISCSI_ERR_NO_OBJS_FOUND.
func noObjects(err error) bool {
	var ec interface{ ExitCode() int }
	return errors.As(err, &ec) && ec.ExitCode() == 21
}
