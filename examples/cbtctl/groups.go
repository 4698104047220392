package main

// The command groups rhv, oci and scsi: each gathers the subcommands of one
// platform, which its own files build (rhvchain.go, rhvchanges.go,
// ocichanges.go, scsilba.go).

// rhvCommand is RHV / oVirt (package rhv): volume chains and their changes.
func rhvCommand() command {
	return command{
		name:     "rhv",
		synopsis: "RHV / oVirt disks (package rhv): volume chains and what their layers changed",
		subs:     []command{rhvChainCommand(), rhvChangesCommand(), rhvBackupCommand()},
	}
}

// ociCommand is OCI Block Volume (package oci).
func ociCommand() command {
	return command{
		name:     "oci",
		synopsis: "OCI block volumes (package oci): changes between two volume backups",
		subs:     []command{ociChangesCommand()},
	}
}

// scsiCommand is a SCSI device already attached (package internal/scsi).
func scsiCommand() command {
	return command{
		name:     "scsi",
		synopsis: "a SCSI block device already attached: GET LBA STATUS",
		subs:     []command{scsiLBAStatusCommand()},
	}
}
