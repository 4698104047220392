package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// state is the state file: what a backup catalog keeps between backups,
// the change ID each disk reached at its last backup.
type state struct {
	VMs map[string]*vmState `json:"vms"` // by VM name
}

type vmState struct {
	Ref   string                `json:"ref"`   // the managed object ID, vm-42
	Disks map[string]*diskState `json:"disks"` // by device key
}

type diskState struct {
	Label    string `json:"label"`
	ChangeID string `json:"changeId"` // cbt.ChangeID.String(): vsphere:<uuid>/<n>#<capacity>
	Snapshot string `json:"snapshot"` // the name of the snapshot it was read from
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (*state, error) {
	st := &state{VMs: map[string]*vmState{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if st.VMs == nil {
		st.VMs = map[string]*vmState{}
	}
	return st, nil
}

// changeID returns the change ID stored for a VM's disk, "" if none.
func (st *state) changeID(vm string, key int32) string {
	v := st.VMs[vm]
	if v == nil {
		return ""
	}
	if d := v.Disks[strconv.Itoa(int(key))]; d != nil {
		return d.ChangeID
	}
	return ""
}

// set records the change ID a disk reached.
func (st *state) set(vm, ref string, key int32, d diskState) {
	v := st.VMs[vm]
	if v == nil || v.Ref != ref {
		v = &vmState{Ref: ref, Disks: map[string]*diskState{}}
		st.VMs[vm] = v
	}
	v.Disks[strconv.Itoa(int(key))] = &d
}

// save writes the state file atomically (a temporary file renamed over it).
func (st *state) save(path string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("saving the state file: %w", err)
	}
	return nil
}
