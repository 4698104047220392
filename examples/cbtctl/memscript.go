package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/changedblocks/sdk/cbt"
	"github.com/changedblocks/sdk/cbt/memcbt"
)

// memScript is what replaying a script left: the change points it named.
type memScript struct {
	points map[string]cbt.ChangeID
	last   cbt.ChangeID // the last point taken, zero when none
}

// maxScriptLine bounds a script line.
const maxScriptLine = 4096

// runScript replays the operations of a script (see memChangesAbout) on v.
// Errors name the file and line.
func runScript(r io.Reader, name string, v *memcbt.Volume) (*memScript, error) {
	s := &memScript{points: map[string]cbt.ChangeID{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxScriptLine)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		if err := s.do(v, strings.Fields(text)); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (s *memScript) do(v *memcbt.Volume, f []string) error {
	if len(f) == 0 {
		return nil
	}
	want := map[string]int{"write": 3, "discard": 3, "point": 2, "delete": 2, "reset": 1}
	n, known := want[f[0]]
	switch {
	case !known:
		return fmt.Errorf("unknown operation %q (want write, discard, point, delete or reset)", f[0])
	case len(f) != n:
		return fmt.Errorf("%s takes %d arguments, not %d", f[0], n-1, len(f)-1)
	}
	switch f[0] {
	case "write", "discard":
		off, err := parseSize(f[1])
		if err != nil {
			return fmt.Errorf("offset %w", err)
		}
		length, err := parseSize(f[2])
		if err != nil {
			return fmt.Errorf("length %w", err)
		}
		if f[0] == "write" {
			return v.Write(off, length)
		}
		return v.Discard(off, length)
	case "point":
		if _, dup := s.points[f[1]]; dup {
			return fmt.Errorf("change point %q taken twice", f[1])
		}
		if strings.Contains(f[1], ":") {
			return fmt.Errorf("change point name %q holds a colon: it would read as a change ID", f[1])
		}
		id, err := v.ChangePoint()
		if err != nil {
			return err
		}
		s.points[f[1]], s.last = id, id
		return nil
	case "delete":
		id, ok := s.points[f[1]]
		if !ok {
			return fmt.Errorf("no change point named %q", f[1])
		}
		return v.DeletePoint(id)
	default: // reset
		v.ResetTracking()
		return nil
	}
}
