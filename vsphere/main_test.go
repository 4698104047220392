package vsphere_test

import (
	"io"
	"log"
	"os"
	"testing"
)

// TestMain silences the standard logger, which vcsim writes every fault it
// answers to (MethodNotFound for each QueryChangedDiskAreas the Tracker then
// answers, among others); set VCSIM_LOG=1 to see them.
func TestMain(m *testing.M) {
	if os.Getenv("VCSIM_LOG") == "" {
		log.SetOutput(io.Discard)
	}
	os.Exit(m.Run())
}
