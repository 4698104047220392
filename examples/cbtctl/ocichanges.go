package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/oracle/oci-go-sdk/v65/common"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/oci"
)

// ociChangesCommand is "cbtctl oci changes".
func ociChangesCommand() command {
	return command{name: "changes", synopsis: "list what changed on a block or boot volume between two of its backups", run: runOCIChanges}
}

// Test hooks. In the program, the configuration is the standard one and
// the hooks are nil; the tests point the clients at a fake service and
// give a connector and a device model.
var (
	ociConfigProvider = common.DefaultConfigProvider
	ociClientsHook    func(*oci.Clients)
	ociOptionsHook    func(*oci.Options)
)

const ociChangesAbout = `Lists what changed on a block volume (or boot volume) between its backups
--first and --second (OCIDs, or change IDs oci:<OCID> an earlier listing
printed), or, with --full instead of --first, the whole volume: what a full
backup copies.

Run it as root on the Linux instance --instance, in the availability
domain --availability-domain, with open-iscsi installed. It creates a
volume from the delta between the backups in --compartment, attaches it to
the instance by iSCSI (read-only, CHAP), logs in with iscsiadm, reads which
blocks are mapped with SCSI GET LBA STATUS, then logs out, detaches and
deletes the volume, also after an error or Ctrl-C. The delta volume is
billed at the source volume's size while it exists; one that cannot be
deleted is named on stderr (it carries the freeform tag cbt-delta).

The OCI credentials and region come from the configuration file
($OCI_CONFIG_FILE, default ~/.oci/config, profile DEFAULT) or the TF_VAR_*
variables; the user needs to read backups, manage volumes in the
compartment and attach volumes to the instance.

The change ID printed is oci:<second backup OCID>: store it, and pass it
with --first to the next incremental.

Exit status 3 (full backup required): the backups are not of the same
volume, the volume was resized between them, or --first is gone.`

// runOCIChanges is "cbtctl oci changes". Not split further: flags, clients
// and the delta volume read in the order the usage text gives them.
func runOCIChanges(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	fs := newFlagSet("cbtctl oci changes",
		"cbtctl oci changes --second OCID (--first OCID | --since CHANGEID | --full) --compartment OCID --availability-domain AD --instance OCID [--block-size SIZE] [flags]",
		ociChangesAbout)
	var first, sinceArg optString
	fs.Var(&first, "first", "list what changed since this backup (`OCID` or oci:OCID)")
	fs.Var(&sinceArg, "since", "the same as --first, as every changes command has it (`CHANGEID` oci:OCID printed by an earlier listing)")
	full := fs.Bool("full", false, "list the whole volume: what a full backup copies (instead of --first)")
	second := fs.String("second", "", "list what changed up to this backup (`OCID` or oci:OCID)")
	compartment := fs.String("compartment", "", "create the delta volume in this compartment (`OCID`)")
	ad := fs.String("availability-domain", "", "the availability domain of the instance (`AD`, such as Uocm:PHX-AD-1)")
	instance := fs.String("instance", "", "attach the delta volume to this instance (`OCID`): the one this runs on")
	blockSize := int64(oci.DefaultChangeBlockSize)
	fs.Var(sizeValue{&blockSize}, "block-size", "the change block `SIZE`: a power of two from 4K to 1M")
	var f changesFlags
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	secondID, err := ociBackupArg(*second)
	if err != nil {
		return usageError(fs, stderr, "--second %q: %v", *second, err)
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	case secondID == "":
		return usageError(fs, stderr, "--second is required: the backup to list the changes up to")
	case *compartment == "":
		return usageError(fs, stderr, "--compartment is required: where to create the delta volume")
	case *ad == "":
		return usageError(fs, stderr, "--availability-domain is required: the instance's")
	case *instance == "":
		return usageError(fs, stderr, "--instance is required: the instance this runs on")
	}
	firstID, msg := ociFirstArg(first, sinceArg, *full, secondID)
	if msg != "" {
		return usageError(fs, stderr, "%s", msg)
	}
	opts := &oci.Options{
		CompartmentID:      *compartment,
		AvailabilityDomain: *ad,
		InstanceID:         *instance,
		ChangeBlockSize:    blockSize,
	}
	if ociOptionsHook != nil {
		ociOptionsHook(opts)
	}
	f.hint = ociHint
	fail := func(err error) int { return reportErrorHint(ctx, stderr, fs.Name(), err, "", f.hint) }

	clients, err := oci.NewClients(ociConfigProvider())
	if err != nil {
		return reportErrorHint(ctx, stderr, fs.Name(), err, "", func(error) string {
			return "set up the OCI SDK configuration as the OCI CLI uses it: ~/.oci/config (or the file OCI_CONFIG_FILE names) with user, fingerprint, key_file, tenancy and region, or the TF_VAR_user_ocid, TF_VAR_tenancy_ocid, TF_VAR_fingerprint, TF_VAR_private_key_path and TF_VAR_region variables"
		})
	}
	if ociClientsHook != nil {
		ociClientsHook(clients)
	}
	left := noteLeftover(ctx, "perhaps a delta volume of backup %s in compartment %s (freeform tag cbt-delta), attached to instance %s: log out of its iSCSI target (iscsiadm), detach and delete it", secondID, *compartment, *instance)
	defer left()
	disk, err := oci.Open(ctx, clients, secondID, opts)
	if err != nil {
		if errors.Is(err, cbt.ErrInvalidArgument) && strings.Contains(err.Error(), "change block size") {
			return usageError(fs, stderr, "--block-size: %v", err)
		}
		return fail(err)
	}
	defer func() {
		if err := disk.Close(); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			if code == exitOK {
				code = exitError
			}
		}
	}()
	var since cbt.ChangeID
	if firstID != "" {
		if since, err = cbt.NewChangeID(oci.Scheme, firstID); err != nil {
			return fail(err)
		}
	}
	return runChanges(ctx, stdout, stderr, disk, since, f)
}

// ociFirstArg reads the base of an OCI listing: --first or --since (the
// same), or --full; it returns the earlier backup's OCID ("" for --full),
// or a usage message.
func ociFirstArg(first, sinceArg optString, full bool, secondID string) (string, string) {
	base, baseName := first, "--first"
	if sinceArg.set {
		if first.set && first.s != sinceArg.s {
			return "", "--since and --first name different backups; give one of them"
		}
		base, baseName = sinceArg, "--since"
	}
	if msg := checkBase(base, full, baseName, "OCID (the earlier backup, or a change ID oci:OCID a listing printed)"); msg != "" {
		return "", msg
	}
	firstID, err := ociBackupArg(base.s)
	if err != nil {
		return "", fmt.Sprintf("%s %q: %v", baseName, base.s, err)
	}
	if firstID == secondID {
		return "", fmt.Sprintf("%s and --second are the same backup: there is nothing between them", baseName)
	}
	if firstID != "" {
		if k1, k2 := ociKind(firstID), ociKind(secondID); k1 != k2 {
			return "", fmt.Sprintf("--first is a %s and --second a %s", k1, k2)
		}
	}
	return firstID, ""
}

// ociBackupArg reads a backup given as an OCID or a change ID oci:<OCID>.
func ociBackupArg(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.Contains(s, ":") {
		id, err := cbt.ParseChangeID(s)
		if err != nil {
			return "", err
		}
		if id.Scheme() != oci.Scheme {
			return "", fmt.Errorf("%q is a change ID of scheme %q, not %q", s, id.Scheme(), oci.Scheme)
		}
		s = id.Value()
	}
	if _, err := oci.BackupKindOf(s); err != nil {
		return "", err
	}
	return s, nil
}

func ociKind(id string) oci.BackupKind {
	k, _ := oci.BackupKindOf(id)
	return k
}

// ociHint is the advice of cbtctl oci changes for an error.
func ociHint(err error) string {
	var se common.ServiceError
	switch {
	case errors.Is(err, cbt.ErrChangeIDInvalid) && !errors.Is(err, cbt.ErrNotFound):
		return "full backup required: the backups are not of the same volume, the volume was resized between them, or --first is gone; run again with --full instead of --first and store the printed change ID"
	case errors.As(err, &se) && se.GetHTTPStatusCode() == 401:
		return "the service refused the credentials: check the OCI configuration file (user, fingerprint, key_file, tenancy, region)"
	case errors.Is(err, cbt.ErrUnsupported):
		return "the delta of these backups cannot be listed here (the feature is off for the tenancy, the volume's performance level is not supported, the delta volume is FAULTY, or this machine lacks iscsiadm or root): copy the whole volume instead"
	case errors.Is(err, cbt.ErrBusy):
		return "the service is busy, or a backup is not AVAILABLE yet: retry later"
	}
	return ""
}
