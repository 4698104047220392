package oci

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
)

// recorder is an iscsiadm that records its arguments and makes the
// by-path link appear on login.
type recorder struct {
	mu   sync.Mutex
	cmds [][]string
	dir  string
	fail map[string]error // by the last argument ("-l", "-u", "delete")
}

func (r *recorder) run(_ context.Context, name string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, append([]string{name}, args...))
	if err := r.fail[args[len(args)-1]]; err != nil {
		return []byte("iscsiadm: failed, password was " + args[len(args)-2]), err
	}
	if args[len(args)-1] == "-l" {
		link := "ip-169.254.2.2:3260-iscsi-iqn.2015-12.com.oracleiaas:abc-lun-1"
		return nil, os.WriteFile(filepath.Join(r.dir, link), nil, 0o600)
	}
	return nil, nil
}

func testAttachment() Attachment {
	return Attachment{ID: "ocid1.volumeattachment.oc1..a", IQN: "iqn.2015-12.com.oracleiaas:abc", Address: "169.254.2.2", Port: 3260,
		ChapUsername: "ocid1.volume.oc1..v", ChapSecret: "topsecret"}
}

func TestIscsiadmConnectorSteps(t *testing.T) {
	rec := &recorder{dir: t.TempDir()}
	c := &IscsiadmConnector{Run: rec.run, DeviceDir: rec.dir}
	a := testAttachment()
	path, err := c.Connect(t.Context(), a)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(rec.dir, "ip-169.254.2.2:3260-iscsi-iqn.2015-12.com.oracleiaas:abc-lun-1"), path)
	require.NoError(t, c.Disconnect(t.Context(), a))
	p := "-m node -T iqn.2015-12.com.oracleiaas:abc -p 169.254.2.2:3260 "
	want := []string{
		"iscsiadm -m node -o new -T iqn.2015-12.com.oracleiaas:abc -p 169.254.2.2:3260",
		"iscsiadm " + p + "-o update -n node.session.auth.authmethod -v CHAP",
		"iscsiadm " + p + "-o update -n node.session.auth.username -v ocid1.volume.oc1..v",
		"iscsiadm " + p + "-o update -n node.session.auth.password -v topsecret",
		"iscsiadm " + p + "-l",
		"iscsiadm " + p + "-u",
		"iscsiadm " + p + "-o delete",
	}
	var got []string
	for _, c := range rec.cmds {
		got = append(got, strings.Join(c, " "))
	}
	assert.Equal(t, want, got)
}

func TestIscsiadmConnectorErrors(t *testing.T) {
	a := testAttachment()
	t.Run("LoginFailsWithoutSecret", func(t *testing.T) {
		rec := &recorder{dir: t.TempDir(), fail: map[string]error{"topsecret": errors.New("exit status 24")}}
		c := &IscsiadmConnector{Run: rec.run, DeviceDir: rec.dir}
		_, err := c.Connect(t.Context(), a)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "topsecret")
		assert.Contains(t, err.Error(), "<secret>")
	})
	t.Run("Missing", func(t *testing.T) {
		c := &IscsiadmConnector{Program: "/nonexistent/iscsiadm"}
		_, err := c.Connect(t.Context(), a)
		require.ErrorIs(t, err, cbt.ErrUnsupported)
		assert.ErrorContains(t, err, "install open-iscsi")
	})
	t.Run("NoDevice", func(t *testing.T) {
		rec := &recorder{dir: t.TempDir()}
		c := &IscsiadmConnector{Run: rec.run, DeviceDir: filepath.Join(rec.dir, "elsewhere"), DeviceTimeout: 50 * time.Millisecond}
		_, err := c.Connect(t.Context(), a)
		require.ErrorIs(t, err, cbt.ErrBusy)
	})
	t.Run("LogoutNoSession", func(t *testing.T) {
		rec := &recorder{dir: t.TempDir(), fail: map[string]error{"-u": exitCode(21), "delete": exitCode(21)}}
		c := &IscsiadmConnector{Run: rec.run, DeviceDir: rec.dir}
		assert.NoError(t, c.Disconnect(t.Context(), a), "nothing to log out of is no error")
		rec.fail["-u"] = exitCode(8)
		assert.Error(t, c.Disconnect(t.Context(), a))
	})
	t.Run("BadIQN", func(t *testing.T) {
		b := a
		b.IQN = "iqn/../../etc"
		_, err := (&IscsiadmConnector{}).Connect(t.Context(), b)
		require.ErrorIs(t, err, cbt.ErrCorrupt)
	})
}

type exitCode int

func (e exitCode) Error() string { return "exit status" }
func (e exitCode) ExitCode() int { return int(e) }

func TestAttachmentStringHidesSecret(t *testing.T) {
	s := testAttachment().String()
	assert.NotContains(t, s, "topsecret")
	assert.Contains(t, s, "169.254.2.2:3260")
}
