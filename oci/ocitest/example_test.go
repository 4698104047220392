package ocitest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/core"

	"github.com/changedblocks/sdk/extent"
	"github.com/changedblocks/sdk/oci/ocitest"
)

// A test points real SDK clients at the server, then drives it.
func Example() {
	t := &testing.T{} // in a test: the test's own t
	srv := ocitest.New(t)
	bs, err := core.NewBlockstorageClientWithConfigurationProvider(srv.ConfigurationProvider())
	if err != nil {
		panic(err)
	}
	srv.Point(&bs.BaseClient)

	vol := srv.Source(1)
	srv.Write(vol, extent.Extent{Offset: 0, Length: 4096})
	b := srv.Backup(vol, false)
	r, err := bs.GetVolumeBackup(context.Background(), core.GetVolumeBackupRequest{VolumeBackupId: &b})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.LifecycleState, *r.SizeInGBs, srv.Calls())
	// Output:
	// AVAILABLE 1 [GET /volumeBackups]
}
