package ocitest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/oracle/oci-go-sdk/v65/core"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordTB keeps the errors the server reports instead of failing.
type recordTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, format)
}

// A request signed with another key is refused, and reported.
func TestSignatureChecked(t *testing.T) {
	rec := &recordTB{TB: t}
	srv := New(rec)
	v := srv.Source(1)
	b := srv.Backup(v, false)

	good, err := core.NewBlockstorageClientWithConfigurationProvider(srv.ConfigurationProvider())
	require.NoError(t, err)
	srv.Point(&good.BaseClient)
	_, err = good.GetVolumeBackup(t.Context(), core.GetVolumeBackupRequest{VolumeBackupId: &b})
	require.NoError(t, err)
	assert.Empty(t, rec.errs)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	other := common.NewRawConfigurationProvider("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u", "us-phoenix-1", "aa:bb:cc", pemKey, nil)
	bad, err := core.NewBlockstorageClientWithConfigurationProvider(other)
	require.NoError(t, err)
	srv.Point(&bad.BaseClient)
	_, err = bad.GetVolumeBackup(t.Context(), core.GetVolumeBackupRequest{VolumeBackupId: &b})
	se, ok := common.IsServiceError(err)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 401, se.GetHTTPStatusCode())
	assert.Len(t, rec.errs, 1, "the bad signature is reported to the test")
}
