package cbt

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/changedblocks/sdk/cbt/driver"
	"github.com/changedblocks/sdk/extent"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewDiskValidatesInfo(t *testing.T) {
	for name, info := range map[string]driver.Info{
		"bad scheme":           {Name: "d", Scheme: "Bad Scheme", Capacity: 10},
		"negative capacity":    {Name: "d", Scheme: "fake", Capacity: -1},
		"negative granularity": {Name: "d", Scheme: "fake", Capacity: 1, Granularity: -1},
		"bad change id":        {Name: "d", Scheme: "fake", Capacity: 1, ChangeID: "a\nb"},
	} {
		p := newPager(1, 10, nil)
		p.info = info
		_, err := NewDisk(p)
		assert.ErrorIs(t, err, ErrCorrupt, name)
		assert.Equal(t, 1, p.closed, "%s: the driver is closed when NewDisk fails", name)
	}
	_, err := NewDisk(nil)
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

func TestDiskAccessors(t *testing.T) {
	p := newPager(1, 4096, nil)
	p.info.Granularity = 0
	d, err := NewDisk(p)
	require.NoError(t, err)
	assert.Equal(t, "fake0", d.Name())
	assert.Equal(t, "fake", d.Scheme())
	assert.Equal(t, int64(4096), d.Capacity())
	assert.Equal(t, int64(1), d.Granularity(), "0 means byte precision")
	id, err := d.ChangeID()
	require.NoError(t, err)
	assert.Equal(t, "fake:p2", id.String())
}

type closeErrDriver struct{ *pager }

func (c closeErrDriver) Close() error { return errors.New("release failed") }

func TestDiskClose(t *testing.T) {
	p := newPager(1, 100, []extent.Extent{{Offset: 0, Length: 1}})
	d, err := NewDisk(p)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "Close is idempotent")
	assert.Equal(t, 1, p.closed, "the driver is closed once")
	_, err = Collect(d.Changes(context.Background(), ChangeID{}, nil))
	assert.ErrorIs(t, err, ErrClosed)
	_, err = Collect(d.Changes(context.Background(), ChangeID{}, &ChangesOptions{StartOffset: 100}))
	assert.ErrorIs(t, err, ErrClosed, "even an empty range reports the closed disk")

	d, err = NewDisk(closeErrDriver{newPager(1, 100, nil)})
	require.NoError(t, err)
	err = d.Close()
	var ce *Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "close", ce.Op)
	assert.EqualError(t, err, "close fake0: release failed")
}

// Close waits for a driver call in progress and later pages see ErrClosed.
func TestDiskCloseDuringListing(t *testing.T) {
	var truth []extent.Extent
	for i := range int64(100) {
		truth = append(truth, extent.Extent{Offset: i * 10, Length: 5})
	}
	p := newPager(1, 1000, truth)
	p.maxPage = 10
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	p.hook = func(driver.Request) {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
	}
	d, err := NewDisk(p)
	require.NoError(t, err)
	var wg sync.WaitGroup
	var listErr error
	wg.Go(func() { _, listErr = Collect(d.Changes(context.Background(), ChangeID{}, nil)) })
	<-entered
	closed := make(chan error)
	go func() { closed <- d.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned while a driver call was in progress")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-closed)
	wg.Wait()
	assert.ErrorIs(t, listErr, ErrClosed)
}
