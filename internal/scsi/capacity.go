package scsi

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
)

// Capacity is the answer of READ CAPACITY(16).
type Capacity struct {
	// BlockSize is the logical block length in bytes.
	BlockSize uint32
	// Blocks is the number of logical blocks (last LBA + 1).
	Blocks uint64
	// LBPME is set when logical block provisioning management is enabled (thin LUN).
	LBPME bool
	// LBPRZ is set when unmapped blocks read as zeros.
	LBPRZ bool
}

// Bytes returns the capacity in bytes, or an ErrMalformed error when it does
// not fit an int64.
func (c Capacity) Bytes() (int64, error) {
	const maxInt64 = int64(^uint64(0) >> 1)
	if c.BlockSize == 0 || c.Blocks > uint64(maxInt64)/uint64(c.BlockSize) {
		return 0, fmt.Errorf("%w: capacity of %d blocks of %d bytes does not fit in 63 bits", ErrMalformed, c.Blocks, c.BlockSize)
	}
	return int64(c.Blocks) * int64(c.BlockSize), nil
}

// DecodeReadCapacity16 decodes READ CAPACITY(16) parameter data. It needs at
// least the first 15 bytes. Errors are ErrMalformed: short data, a zero
// block length, or a last LBA of 2^64-1.
func DecodeReadCapacity16(b []byte) (Capacity, error) {
	if len(b) < 15 {
		return Capacity{}, fmt.Errorf("%w: READ CAPACITY(16) returned %d bytes, want at least 15", ErrMalformed, len(b))
	}
	last := binary.BigEndian.Uint64(b[0:8])
	c := Capacity{
		BlockSize: binary.BigEndian.Uint32(b[8:12]),
		LBPME:     b[14]&0x80 != 0,
		LBPRZ:     b[14]&0x40 != 0,
	}
	if c.BlockSize == 0 {
		return Capacity{}, fmt.Errorf("%w: READ CAPACITY(16) reports a logical block length of 0", ErrMalformed)
	}
	if last == ^uint64(0) {
		return Capacity{}, fmt.Errorf("%w: READ CAPACITY(16) reports a last LBA of 2^64-1", ErrMalformed)
	}
	c.Blocks = last + 1
	return c, nil
}

// AppendReadCapacity16 appends c encoded as the 32 bytes of READ CAPACITY(16)
// parameter data to b. c.Blocks must be at least 1.
func AppendReadCapacity16(b []byte, c Capacity) []byte {
	b = binary.BigEndian.AppendUint64(b, c.Blocks-1)
	b = binary.BigEndian.AppendUint32(b, c.BlockSize)
	var flags byte
	if c.LBPME {
		flags |= 0x80
	}
	if c.LBPRZ {
		flags |= 0x40
	}
	b = append(b, 0, 0, flags)
	return append(b, make([]byte, ReadCapacityDataLen-15)...)
}

// ReadCapacity sends READ CAPACITY(16) and decodes the answer. UNIT ATTENTION
// is retried a few times. Errors: ErrUnsupported (the device does not know the
// command), ErrMalformed (a malformed answer), ErrBusy (unit attention or busy
// persisted), or the device's error; context errors as they are.
func ReadCapacity(ctx context.Context, dev Device) (Capacity, error) {
	return readCapacity(ctx, dev, defaultRetries, nil)
}

func readCapacity(ctx context.Context, dev Device, retries int, log *slog.Logger) (Capacity, error) {
	buf := make([]byte, ReadCapacityDataLen)
	n, err := execRetry(ctx, dev, ReadCapacity16CDB(ReadCapacityDataLen), buf, retries, log)
	if err != nil {
		return Capacity{}, fmt.Errorf("scsi: READ CAPACITY(16): %w", err)
	}
	return DecodeReadCapacity16(buf[:n])
}
