package oci

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oracle/oci-go-sdk/v65/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/internal/scsi/scsimodel"
	"github.com/changedblocks/sdk/oci/ocitest"
)

// Every documented answer of the delta CreateVolume, and what the caller
// gets: the class, the service error reachable, nothing left behind.
func TestCreateResponseCodes(t *testing.T) {
	ok := error(nil)
	cases := []struct {
		name   string
		setup  func(s *scenario)
		first  func(s *scenario) string
		want   error // nil: the listing succeeds
		status int   // the service error's status, when want is set; -1: refused without one
		posts  int   // POST /volumes sent
		busy   time.Duration
	}{
		{name: "400", setup: func(s *scenario) { s.f.Fault("POST /volumes", ocitest.Fault{Status: 400, Code: "InvalidParameter"}) },
			want: cbt.ErrInvalidArgument, status: 400, posts: 1},
		{name: "other volume refused before any volume", first: func(s *scenario) string {
			other := s.f.Source(1)
			return s.f.Backup(other, false)
		}, want: cbt.ErrChangeIDInvalid, status: -1, posts: 0},
		{name: "403 resized", first: func(s *scenario) string {
			s.f.ResizeBackup(s.first, 2) // the volume grew after the first backup
			return s.first
		}, want: cbt.ErrChangeIDInvalid, status: 403, posts: 1},
		{name: "404 first backup gone, before any volume", first: func(s *scenario) string {
			s.f.DeleteBackup(s.first)
			return s.first
		}, want: cbt.ErrChangeIDInvalid, status: 404, posts: 0},
		{name: "404 feature off", setup: func(s *scenario) { s.f.SetDeltaOff(true) },
			want: cbt.ErrUnsupported, status: 404, posts: 1},
		{name: "404 second backup gone", setup: func(s *scenario) {
			s.f.DeleteBackup(s.second)
		}, want: cbt.ErrNotFound, status: 404, posts: 1},
		{name: "409 then available", setup: func(s *scenario) {
			s.f.SetBusy(s.second, 3)
		}, want: ok, posts: 4},
		{name: "409 past BusyTimeout", setup: func(s *scenario) {
			s.f.SetBusy(s.second, 1<<30)
		}, want: cbt.ErrBusy, status: 409, posts: -1, busy: 50 * time.Millisecond},
		{name: "429 then ok", setup: func(s *scenario) {
			s.f.Fault("POST /volumes", ocitest.Fault{Status: 429, Code: "TooManyRequests"}, ocitest.Fault{Status: 429, Code: "TooManyRequests"})
		}, want: ok, posts: 3},
		{name: "502 503 504 then ok", setup: func(s *scenario) {
			s.f.Fault("POST /volumes", ocitest.Fault{Status: 502, Code: "Bad"}, ocitest.Fault{Status: 503, Code: "ServiceUnavailable"}, ocitest.Fault{Status: 504, Code: "Timeout"})
		}, want: ok, posts: 4},
		{name: "429 past the retries", setup: func(s *scenario) {
			for range 10 {
				s.f.Fault("POST /volumes", ocitest.Fault{Status: 429, Code: "TooManyRequests"})
			}
		}, want: cbt.ErrBusy, status: 429, posts: 4},
		{name: "500 past the retries", setup: func(s *scenario) {
			for range 10 {
				s.f.Fault("POST /volumes", ocitest.Fault{Status: 500, Code: "InternalServerError"})
			}
		}, want: nil, status: 500, posts: 4},
		{name: "501 not retried", setup: func(s *scenario) {
			s.f.Fault("POST /volumes", ocitest.Fault{Status: 501, Code: "MethodNotImplemented"})
		},
			want: cbt.ErrUnsupported, status: 501, posts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, false)
			if tc.setup != nil {
				tc.setup(s)
			}
			first := s.first
			if tc.first != nil {
				first = tc.first(s)
			}
			d, err := Open(t.Context(), s.c, s.second, func() *Options {
				o := fakeOptions(s.f, s.conn)
				o.Retries = 3
				o.BusyTimeout = 10 * time.Second
				if tc.busy > 0 {
					o.BusyTimeout = tc.busy
				}
				return o
			}())
			if errors.Is(tc.want, cbt.ErrNotFound) {
				// The second backup is read by Open already.
				require.ErrorIs(t, err, cbt.ErrNotFound)
				assertStatus(t, err, tc.status)
				s.assertClean(t)
				return
			}
			require.NoError(t, err)
			defer d.Close()
			got, err := cbt.Collect(d.Changes(t.Context(), since(t, first), nil))
			switch {
			case tc.status == 0:
				require.NoError(t, err)
				assert.True(t, covers(got, s.written))
			default:
				require.Error(t, err)
				if tc.want != nil {
					require.ErrorIs(t, err, tc.want)
				}
				for _, cls := range []error{cbt.ErrInvalidArgument, cbt.ErrChangeIDInvalid, cbt.ErrUnsupported, cbt.ErrBusy, cbt.ErrNotFound} {
					if cls != tc.want {
						assert.NotErrorIs(t, err, cls, "only the one class")
					}
				}
				if tc.status > 0 {
					assertStatus(t, err, tc.status)
				}
			}
			if tc.posts >= 0 {
				assert.Equal(t, tc.posts, s.f.Count("POST /volumes"))
			} else {
				assert.Greater(t, s.f.Count("POST /volumes"), 1, "409 is waited for")
			}
			s.assertClean(t)
		})
	}
}

func assertStatus(t *testing.T, err error, status int) {
	t.Helper()
	var se common.ServiceError
	require.True(t, errors.As(err, &se), "the service error is reachable with errors.As: %v", err)
	assert.Equal(t, status, se.GetHTTPStatusCode())
}

// A failure at every step of the lifecycle leaves no volume and no
// attachment behind, and no login.
func TestNothingLeftBehind(t *testing.T) {
	persistent := func(route string, status int) func(s *scenario) {
		return func(s *scenario) {
			for range 10 {
				s.f.Fault(route, ocitest.Fault{Status: status, Code: "X"})
			}
		}
	}
	cases := []struct {
		name  string
		setup func(s *scenario)
		mod   func(s *scenario, o *Options)
	}{
		{name: "create fails", setup: persistent("POST /volumes", 500)},
		{name: "volume read fails", setup: persistent("GET /volumes", 500)},
		{name: "volume never available", mod: func(s *scenario, o *Options) {
			s.f.SetPolls(1<<30, 1, 1)
			o.WaitTimeout = 30e6
		}},
		{name: "volume FAULTY", setup: func(s *scenario) { s.f.SetFaulty(true) }},
		{name: "attach fails", setup: persistent("POST /volumeAttachments", 503)},
		{name: "attach refused", setup: func(s *scenario) {
			s.f.Fault("POST /volumeAttachments", ocitest.Fault{Status: 400, Code: "InvalidParameter"})
		}},
		{name: "attachment read fails", setup: persistent("GET /volumeAttachments", 500)},
		{name: "never attached", mod: func(s *scenario, o *Options) {
			s.f.SetPolls(2, 1<<30, 1)
			o.WaitTimeout = 30e6
		}},
		{name: "connect fails", setup: func(s *scenario) { s.conn.fail = fmt.Errorf("iscsiadm: login failed") }},
		{name: "device open fails", mod: func(s *scenario, o *Options) {
			o.OpenDevice = func(string) (Device, error) { return nil, fmt.Errorf("%w: no SG_IO", cbt.ErrUnsupported) }
		}},
		{name: "device too small", mod: func(s *scenario, o *Options) {
			o.OpenDevice = func(path string) (Device, error) { return scsimodel.New(1<<20, 512, nil) }
		}},
		{name: "scan fails", mod: func(s *scenario, o *Options) {
			open := o.OpenDevice
			o.OpenDevice = func(path string) (Device, error) {
				dev, err := open(path)
				if err == nil {
					dev.(*scsimodel.LUN).No32 = true // answers ILLEGAL REQUEST, invalid opcode
				}
				return dev, err
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, false)
			if tc.setup != nil {
				tc.setup(s)
			}
			o := fakeOptions(s.f, s.conn)
			o.Retries = 2
			if tc.mod != nil {
				tc.mod(s, o)
			}
			d, err := Open(t.Context(), s.c, s.second, o)
			require.NoError(t, err)
			_, err = cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
			require.Error(t, err)
			t.Log(err)
			s.assertClean(t)
			require.NoError(t, d.Close())
		})
	}
}

// Teardown calls that fail for a while are retried; the volume is still
// removed.
func TestTeardownRetries(t *testing.T) {
	s := newScenario(t, false)
	s.f.Fault("DELETE /volumeAttachments", ocitest.Fault{Status: 500, Code: "InternalServerError"}, ocitest.Fault{Status: 429, Code: "TooManyRequests"})
	s.f.Fault("DELETE /volumes", ocitest.Fault{Status: 503, Code: "ServiceUnavailable"})
	d := s.open(t, nil)
	_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err)
	s.assertClean(t)
	require.NoError(t, d.Close())
}

// A teardown that fails for good (here the policy lets the user create but
// not delete volumes) is reported by Close, naming what is left.
func TestTeardownFailureReportedByClose(t *testing.T) {
	s := newScenario(t, false)
	s.f.Fault("DELETE /volumes", ocitest.Fault{Status: 403, Code: "NotAuthorized"})
	d := s.open(t, func(o *Options) { o.Retries = 2 })
	got, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
	require.NoError(t, err, "the extents are correct")
	assert.True(t, covers(got, s.written))
	err = d.Close()
	require.Error(t, err)
	assert.ErrorContains(t, err, "delete it by hand")
	vols, _ := s.f.Live()
	require.Len(t, vols, 1)
	assert.ErrorContains(t, err, vols[0])
	assertStatus(t, err, 403)
	assert.NotErrorIs(t, err, cbt.ErrChangeIDInvalid)
}

// A create or attach whose answer is lost and whose retries all fail may
// have been done all the same: teardown finds what it made, by the
// lifecycle's unique display name or by the volume, and removes it.
func TestLostAnswers(t *testing.T) {
	lost := func(route string) func(s *scenario) {
		return func(s *scenario) {
			s.f.Fault(route, ocitest.Fault{Status: 502, Code: "BadGateway", After: true})
			for range 5 {
				s.f.Fault(route, ocitest.Fault{Status: 502, Code: "BadGateway"})
			}
		}
	}
	for _, tc := range []struct {
		name  string
		boot  bool
		route string
		list  string
	}{
		{"create", false, "POST /volumes", "LIST /volumes"},
		{"create boot", true, "POST /bootVolumes", "LIST /bootVolumes"},
		{"attach", false, "POST /volumeAttachments", "LIST /volumeAttachments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScenario(t, tc.boot)
			lost(tc.route)(s)
			d := s.open(t, func(o *Options) { o.Retries = 2 })
			_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
			require.Error(t, err)
			assertStatus(t, err, 502)
			assert.Equal(t, 1, s.f.Count(tc.list), "looked for what the lost request made")
			s.assertClean(t)
			require.NoError(t, d.Close())
		})
	}
	t.Run("attach lost and its lookup failing", func(t *testing.T) {
		s := newScenario(t, false)
		lost("POST /volumeAttachments")(s)
		for range 10 {
			s.f.Fault("LIST /volumeAttachments", ocitest.Fault{Status: 400, Code: "InvalidParameter"})
		}
		d := s.open(t, func(o *Options) { o.Retries = 2 })
		_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
		require.Error(t, err)
		assert.ErrorContains(t, err, "may still be attached", "says what to do")
		assert.Zero(t, s.f.Count("DELETE /volumes"), "no delete the service would refuse for the whole cleanup timeout")
		_ = d.Close()
	})
	t.Run("refused create is not looked for", func(t *testing.T) {
		s := newScenario(t, false)
		s.f.Fault("POST /volumes", ocitest.Fault{Status: 400, Code: "InvalidParameter"})
		d := s.open(t, nil)
		_, err := cbt.Collect(d.Changes(t.Context(), since(t, s.first), nil))
		require.ErrorIs(t, err, cbt.ErrInvalidArgument)
		assert.Zero(t, s.f.Count("LIST /volumes"))
	})
}
