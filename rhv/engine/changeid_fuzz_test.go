package engine

import "testing"

// FuzzCheckpointOfValue: a checkpoint change-ID value that parses is made
// of its parts again, and makes a valid change ID; nothing else panics.
func FuzzCheckpointOfValue(f *testing.F) {
	for _, s := range []string{"checkpoint:c", "checkpoint:c~c1ab", "checkpoint:", "checkpoint:~", "checkpoint:a~b~c", "volume:x", "checkpoint:a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cp, guard, err := checkpointOfValue(s)
		if err != nil {
			return
		}
		again := checkpointPrefix + cp
		if guard != "" {
			again = guardedCheckpoint(cp, guard)
		}
		if again != s {
			t.Fatalf("%q parses as %q, %q, which make %q", s, cp, guard, again)
		}
		if _, err := CheckpointChangeID(cp); err != nil {
			t.Fatal(err)
		}
	})
}
