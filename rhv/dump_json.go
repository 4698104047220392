package rhv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/changedblocks/sdk/cbt"
)

// readDumpJSON reads dump-volume-chains -o json: {"<image>": {"<volume>":
// {vol-info}}}, keeping the order of the output.
func readDumpJSON(data []byte) ([]Volume, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	bad := func(format string, args ...any) error {
		return readErrorf(cbt.ErrCorrupt, "vdsm-tool dump-volume-chains JSON", format+" (at byte %d)", append(args, dec.InputOffset())...)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, bad("%v", err)
	}
	var vols []Volume
	seen := make(map[string]bool)
	for dec.More() {
		group, err := stringToken(dec)
		if err != nil {
			return nil, bad("image: %v", err)
		}
		if err := expectDelim(dec, '{'); err != nil {
			return nil, bad("image %s: %v", clip(group, 40), err)
		}
		for dec.More() {
			id, err := stringToken(dec)
			if err != nil {
				return nil, bad("volume: %v", err)
			}
			var info map[string]any
			if err := dec.Decode(&info); err != nil {
				return nil, bad("volume %s: %v", clip(id, 40), err)
			}
			if seen[id] {
				continue // a template's volume, listed again under an image based on it
			}
			seen[id] = true
			v, err := dumpJSONVolume(id, group, info)
			if err != nil {
				return nil, bad("volume %s: %v", clip(id, 40), err)
			}
			vols = append(vols, v)
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, bad("%v", err)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, bad("more after the object")
	}
	return vols, nil
}

// dumpJSONVolume makes the volume of one vol-info.
func dumpJSONVolume(id, group string, info map[string]any) (Volume, error) {
	v := Volume{ID: id, Parent: UnknownParent, MDSlot: -1}
	if group != UnknownImage {
		v.Image = group
	}
	for _, key := range slices.Sorted(maps.Keys(info)) {
		val := info[key]
		var s string
		switch x := val.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = fmt.Sprint(x)
		case nil:
			continue
		default: // a list or object (the old getInfo's children): not modelled
			continue
		}
		if key == "image" && s == UnknownImage {
			s = ""
		}
		setDumpField(&v, key, s)
	}
	if v.Image == "" && group != UnknownImage {
		v.Image = group
	}
	if strings.TrimSpace(v.ID) == "" {
		return v, fmt.Errorf("empty volume UUID")
	}
	return v, nil
}

// expectDelim reads the next token and checks that it is the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("want %q, got %v", rune(d), tok)
	}
	return nil
}

// stringToken reads the next token, an object key.
func stringToken(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %v", tok)
	}
	return s, nil
}
