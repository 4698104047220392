package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"

	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/changedblocks/sdk/vsphere/vcsimcbt"
)

// env is a logged-in client and, on the simulator, the CBT model.
type env struct {
	c       *vim25.Client
	where   string                          // for messages: the host, never the credentials
	relogin func(ctx context.Context) error // logs c in again
	tr      *vcsimcbt.Tracker               // nil against a real server
	url     *url.URL                        // the simulator's URL, with its credentials (tests); nil otherwise
	reg     *simulator.Registry             // the simulator's objects (tests); nil otherwise
	close   func()
}

// newClient returns a client of u (whose user information is left out: it
// must not show in errors) that checks the server's certificate unless
// insecure, with caFile (a PEM file) as an extra root when not empty, logged
// in as user.
func newClient(ctx context.Context, u *url.URL, user *url.Userinfo, insecure bool, caFile string) (*vim25.Client, func(context.Context) error, error) {
	bare := *u
	bare.User = nil
	sc := soap.NewClient(&bare, insecure)
	if caFile != "" {
		if err := sc.SetRootCAs(caFile); err != nil {
			return nil, nil, err
		}
	}
	c, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %w", bare.Host, err)
	}
	login := func(ctx context.Context) error { return session.NewManager(c).Login(ctx, user) }
	if err := login(ctx); err != nil {
		return nil, nil, fmt.Errorf("logging in to %s: %w", bare.Host, err)
	}
	return c, login, nil
}

// connect logs in to a real vCenter or ESXi host. The credentials come from
// the URL, or from GOVC_USERNAME and GOVC_PASSWORD.
func connect(ctx context.Context, raw string, insecure bool) (*env, error) {
	u, err := soap.ParseURL(raw)
	if err != nil || u == nil || u.Host == "" {
		return nil, errors.New("-url: want https://host/sdk (user and password in the URL or in GOVC_USERNAME, GOVC_PASSWORD)")
	}
	user := u.User
	if user == nil || user.Username() == "" {
		name, pass := os.Getenv("GOVC_USERNAME"), os.Getenv("GOVC_PASSWORD")
		if name == "" {
			return nil, errors.New("no user name: put it in the URL or in GOVC_USERNAME (and the password in GOVC_PASSWORD)")
		}
		user = url.UserPassword(name, pass)
	}
	c, login, err := newClient(ctx, u, user, insecure, "")
	if err != nil {
		return nil, err
	}
	return &env{c: c, where: u.Host, relogin: login, close: func() {
		ctx, cancel := cleanupContext(ctx)
		defer cancel()
		_ = session.NewManager(c).Logout(ctx)
	}}, nil
}

// startSimulator starts govmomi's vCenter simulator (the VPX model) on
// loopback with vcsimcbt's change tracking, and logs a client in; the client
// checks the simulator's certificate.
func startSimulator(ctx context.Context) (_ *env, err error) {
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.RegisterEndpoints = true
	s := m.Service.NewServer()
	// vcsim logs a line for every method it lacks (QueryChangedDiskAreas,
	// which vcsimcbt answers) through the standard logger.
	logOut := log.Writer()
	log.SetOutput(io.Discard)
	stop := func() {
		s.Close()
		m.Remove()
		log.SetOutput(logOut)
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	tr, err := vcsimcbt.New(m.Map(), nil)
	if err != nil {
		return nil, fmt.Errorf("vcsimcbt: %w", err)
	}
	ca, err := s.CertificateFile()
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("simulator certificate: %w", err)
	}
	c, login, err := newClient(ctx, s.URL, s.URL.User, false, ca)
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("simulator: %w", err)
	}
	tr.Install(c)
	return &env{c: c, where: "simulator " + s.URL.Host, relogin: login, tr: tr, url: s.URL, reg: m.Map(), close: func() {
		tr.Close()
		stop()
	}}, nil
}
