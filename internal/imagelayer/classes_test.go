package imagelayer

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/changedblocks/sdk/internal/qcow2"
)

func TestClassesOf(t *testing.T) {
	c := Classes{Path: errors.New("path"), Busy: errors.New("busy"), NotFound: errors.New("notfound"),
		Unsupported: errors.New("unsupported"), Corrupt: errors.New("corrupt")}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("x: %w", qcow2.ErrCorrupt), c.Corrupt},
		{fmt.Errorf("x: %w", qcow2.ErrUnsupported), c.Unsupported},
		{fmt.Errorf("x: %w", qcow2.ErrNotQcow2), c.Unsupported},
		{fmt.Errorf("x: %w", ErrFormat), c.Unsupported},
		{&fs.PathError{Op: "open", Path: "p", Err: fs.ErrPermission}, c.Unsupported},
		{fmt.Errorf("x: %w", ErrBusy), c.Busy},
		{&pathError{err: errors.New("a FIFO")}, c.Path},
		{&fs.PathError{Op: "open", Path: "p", Err: fs.ErrNotExist}, c.NotFound},
		{errors.New("input/output error"), c.Corrupt},
	} {
		assert.Equal(t, tc.want, c.Of(tc.err), "%v", tc.err)
	}
	_, err := Open(filepath.Join(t.TempDir(), "missing.qcow2"), "", nil)
	assert.Equal(t, c.NotFound, c.Of(err), "a missing file, as Open reports it")
}
