package internal

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// module is the import path of this module.
const module = "github.com/changedblocks/sdk"

// platforms are the platform packages, relative to the module: the rows of
// DESIGN.md's platform table. A package at or below one of them belongs to
// the longest that matches (oci/ocitest to oci, rhv/engine to rhv). The
// qemu / KVM platform is one row: qemu reads its images offline and
// qemu/libvirt serves the running domains, reading a shut-off domain's disk
// and a libvirt internal snapshot with package qemu's public API (they are
// qemu's images); qemu/libvirt is in its own package only because it alone
// uses cgo.
var platforms = []string{"vsphere", "oci", "qemu", "rhv", "cbt/memcbt"}

// allowedEdges are the only imports, direct or indirect, from one platform
// package into another. Each says why. An edge listed here that the tree no
// longer has fails the test: the list stays exact. There is none: what two
// platforms share lives in internal/ (internal/imagelayer for rhv and qemu)
// or in extent, cbt and cbt/copier.
var allowedEdges = map[[2]string]string{}

// cgoUsers are the only packages of the module that may use cgo, directly or
// through a dependency: the libvirt binding, and the program that links it.
// Every other package builds with CGO_ENABLED=0.
var cgoUsers = []string{"qemu/libvirt", "examples/cbtctl"}

// listedPackage is what the test reads of `go list -json`.
type listedPackage struct {
	ImportPath string
	ForTest    string // set on a package recompiled for the tests of ForTest
	Standard   bool
	CgoFiles   []string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// goList runs `go list -deps -test -json` on the whole module, with cgo
// enabled so that packages built only with cgo are seen.
func goList(t *testing.T) []listedPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed to check the import rules: %v", err)
		}
		t.Skipf("the go command is needed to check the import rules: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-test", "-json", module+"/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// rel returns the path of a package of the module relative to it, without
// the test variant's suffix ("oci [oci.test]" is "oci"), and whether it is
// one.
func rel(path string) (string, bool) {
	path, _, _ = strings.Cut(path, " ")
	path = strings.TrimSuffix(path, ".test") // the generated test main
	path = strings.TrimSuffix(path, "_test") // an external test package
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// under reports whether package r is dir or below it.
func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

// platformOf returns the platform package r belongs to, or "".
func platformOf(r string) string {
	best := ""
	for _, p := range platforms {
		if under(r, p) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// moduleDeps returns the packages of the module p imports, directly or not.
func moduleDeps(p listedPackage) []string {
	var out []string
	for _, d := range append(slices.Clone(p.Imports), p.Deps...) {
		if r, ok := rel(d); ok {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// The layers of DESIGN.md, checked on the import graph of the module, the
// tests' imports included:
//
//   - a package under internal/ (a format or protocol codec, or a test
//     helper such as internal/qemutools, which wraps command-line tools and
//     is held to the same rule) imports nothing of cbt (its error classes
//     included) and nothing of a platform: it holds no SDK policy;
//   - no platform package imports another, but for allowedEdges;
//   - only cgoUsers use cgo.
func TestLayering(t *testing.T) {
	pkgs := goList(t)
	cgo := map[string]bool{} // import paths of packages with cgo files outside the standard library
	for _, p := range pkgs {
		if len(p.CgoFiles) > 0 && !p.Standard {
			cgo[p.ImportPath] = true
		}
	}
	usedEdges := map[[2]string]bool{}
	cgoSeen := map[string]bool{}
	reported := map[string]bool{} // each broken rule once, not per test variant
	errorf := func(key, format string, args ...any) {
		if !reported[key] {
			reported[key] = true
			t.Errorf(format, args...)
		}
	}
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok || p.Standard {
			continue
		}
		deps := moduleDeps(p)

		if under(r, "internal") {
			for _, d := range deps {
				if under(d, "cbt") || platformOf(d) != "" {
					errorf(r+" "+d, "%s depends on %s: a package under internal/ holds no SDK error class and no platform policy (give it its own errors and let the platform classify them)", r, d)
				}
			}
		}

		if from := platformOf(r); from != "" {
			for _, d := range deps {
				to := platformOf(d)
				if to == "" || to == from {
					continue
				}
				edge := [2]string{from, to}
				if _, ok := allowedEdges[edge]; ok {
					usedEdges[edge] = true
					continue
				}
				errorf(r+" "+d, "%s depends on %s: platform %s depends on platform %s; move what both need into internal/ or extent", r, d, from, to)
			}
		}

		usesCgo := cgo[p.ImportPath]
		for _, d := range p.Deps {
			usesCgo = usesCgo || cgo[d]
		}
		if usesCgo {
			root := r
			if p.ForTest != "" {
				root, _ = rel(p.ForTest)
			}
			cgoSeen[root] = true
			if !slices.Contains(cgoUsers, root) {
				errorf(root, "%s uses cgo (directly or through a dependency): only %v may, so that everything else builds with CGO_ENABLED=0", root, cgoUsers)
			}
		}
	}
	for edge, why := range allowedEdges {
		assert.True(t, usedEdges[edge], "allowed edge %s -> %s (%s) is no longer in the tree: delete it from allowedEdges", edge[0], edge[1], why)
	}
	// The cgo rule means something only if the binding is seen using cgo.
	assert.True(t, cgoSeen["qemu/libvirt"], "qemu/libvirt is not seen using cgo: go list ran without cgo?")
}
