package scsi

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s))
	require.NoError(t, err)
	return b
}

// The bytes sg_get_lba_status (sg3-utils 1.46) prints with -v for
// "-T -l 96 -m 32768 -s 2097152 -t 1" and "-l 96 -m 32768 -t 1".
func TestGetLBAStatusCDBMatchesSgGetLBAStatus(t *testing.T) {
	req := LBAStatusRequest{StartLBA: 96, AllocLen: 32768, ScanLen: 2097152, ReportType: 1}
	want32 := unhex(t, "7f 00 00 00 00 00 00 18 00 12 01 00 | 00 00 00 00 00 00 00 60 | 00 20 00 00 | 00 00 00 00 | 00 00 80 00")
	assert.Equal(t, want32, GetLBAStatus32CDB(req))
	want16 := unhex(t, "9e 12 00 00 00 00 00 00 00 60 00 00 80 00 01 00")
	assert.Equal(t, want16, GetLBAStatus16CDB(req))
}

func TestGetLBAStatus32CDBFields(t *testing.T) {
	cdb := GetLBAStatus32CDB(LBAStatusRequest{StartLBA: 0x0102030405060708, AllocLen: 0x11223344, ReportType: 3, ScanLen: 0xa0b0c0d0, ElementID: 0x55667788})
	require.Len(t, cdb, 32)
	assert.Equal(t, unhex(t, "7f 00 00 00 00 00 00 18 00 12 03 00 0102030405060708 a0b0c0d0 55667788 11223344"), cdb)
}

func TestReadCapacity16CDB(t *testing.T) {
	assert.Equal(t, unhex(t, "9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00"), ReadCapacity16CDB(32))
}

func TestRead16CDB(t *testing.T) {
	assert.Equal(t, unhex(t, "88 00 0000000000001000 00000008 00 00"), Read16CDB(0x1000, 8))
}
