package driver_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt/driver"
)

var errPlatform = errors.New("platform: refused")

func TestClass(t *testing.T) {
	for _, c := range []error{driver.ErrChangeIDInvalid, driver.ErrNotEnabled, driver.ErrNotFound, driver.ErrUnsupported,
		driver.ErrInvalidArgument, driver.ErrCorrupt, driver.ErrBusy, driver.ErrClosed} {
		assert.Equal(t, c, driver.Class(c), "the class itself")
		wrapped := fmt.Errorf("x: %w", fmt.Errorf("%w: y: %w", c, errPlatform))
		assert.Equal(t, c, driver.Class(wrapped), "%v, wrapped twice", c)
		assert.True(t, driver.HasClass(wrapped))
		assert.Equal(t, c, driver.Class(errors.Join(errPlatform, wrapped)), "%v, joined", c)
	}
	assert.Nil(t, driver.Class(nil))
	assert.Nil(t, driver.Class(errPlatform))
	assert.False(t, driver.HasClass(errPlatform))
	assert.False(t, driver.HasClass(nil))
	assert.False(t, driver.HasClass(errors.New("cbt: not found")), "the message alone is no class")
	// Two classes: the one listed first.
	both := fmt.Errorf("%w: %w: point is gone", driver.ErrNotFound, driver.ErrChangeIDInvalid)
	assert.Equal(t, driver.ErrChangeIDInvalid, driver.Class(both))
}

func TestWithClass(t *testing.T) {
	err := driver.WithClass(driver.ErrBusy, fmt.Errorf("oci: scanning: %w", errPlatform))
	require.ErrorIs(t, err, driver.ErrBusy)
	require.ErrorIs(t, err, errPlatform, "the cause stays reachable")
	assert.Equal(t, "cbt: busy: oci: scanning: platform: refused", err.Error())

	// A class already there wins over the one offered.
	classed := fmt.Errorf("%w: device: gone", driver.ErrNotFound)
	got := driver.WithClass(driver.ErrBusy, classed)
	assert.Same(t, classed, got)
	assert.NotErrorIs(t, got, driver.ErrBusy)

	// Context errors pass as they are, wrapped or not.
	assert.Same(t, context.Canceled, driver.WithClass(driver.ErrBusy, context.Canceled))
	wrappedCtx := fmt.Errorf("oci: waiting: %w", context.DeadlineExceeded)
	assert.Same(t, wrappedCtx, driver.WithClass(driver.ErrBusy, wrappedCtx))

	assert.NoError(t, driver.WithClass(driver.ErrBusy, nil))
	assert.Same(t, errPlatform, driver.WithClass(nil, errPlatform), "no class known")
}

// A driver classes an error from a lower layer that has no class yet, and
// leaves one that has.
func ExampleWithClass() {
	var errDevice = errors.New("device: not ready")
	fmt.Println(driver.WithClass(driver.ErrBusy, fmt.Errorf("table: reading: %w", errDevice)))
	fmt.Println(driver.WithClass(driver.ErrBusy, fmt.Errorf("%w: table: no such table", driver.ErrNotFound)))
	fmt.Println(driver.Class(fmt.Errorf("wrapped: %w", driver.ErrCorrupt)) == driver.ErrCorrupt)
	// Output:
	// cbt: busy: table: reading: device: not ready
	// cbt: not found: table: no such table
	// true
}
