package postwire_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/postwire/postwire"

// importRule is one row of ARCHITECTURE.md's import table. Forbidden standard
// packages are checked against the package's own (direct) imports: the
// standard library itself imports net, os, sync and time all over (net/mail
// does, and codec must use net/mail), so a transitive check of std would
// forbid everything. Imports of postwire packages are checked transitively.
type importRule struct {
	pkg          string
	mayImport    []string // postwire packages allowed, transitively
	forbiddenStd []string // standard packages never imported directly
}

var importRules = []importRule{
	{pkg: "codec", forbiddenStd: []string{"net", "os", "time", "crypto/tls", "sync"}},
	{pkg: "protocol", mayImport: []string{"codec"}, forbiddenStd: []string{"net", "os", "time", "crypto/tls", "sync", "io", "bufio"}},
	{pkg: "auth", forbiddenStd: []string{"net", "os", "time"}},
	{pkg: "transport", forbiddenStd: nil},
}

type listedPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func goList(t *testing.T, pkg string) listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var p listedPackage
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return p
}

func TestImportRules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to check import rules: %v", err)
	}
	for _, r := range importRules {
		t.Run(r.pkg, func(t *testing.T) {
			p := goList(t, r.pkg)
			for _, imp := range p.Imports {
				if slices.Contains(r.forbiddenStd, imp) {
					t.Errorf("%s imports %s, which ARCHITECTURE.md forbids", r.pkg, imp)
				}
			}
			for _, dep := range p.Deps {
				rel, ok := strings.CutPrefix(dep, module+"/")
				if !ok {
					continue
				}
				if !slices.Contains(r.mayImport, rel) {
					t.Errorf("%s depends on %s, which ARCHITECTURE.md forbids", r.pkg, rel)
				}
			}
		})
	}
}

// TestTransportIndependent checks that transport never reaches protocol or
// session, and that pion's test package (which imports testing) stays out
// of every non-test package.
func TestTransportIndependent(t *testing.T) {
	p := goList(t, "transport")
	for _, dep := range p.Deps {
		if strings.HasPrefix(dep, module+"/protocol") || strings.HasPrefix(dep, module+"/session") {
			t.Errorf("transport depends on %s", dep)
		}
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], module+"/fuzz") {
			continue
		}
		if slices.Contains(fields[1:], "github.com/pion/transport/v3/test") {
			t.Errorf("%s imports pion's test package outside tests", fields[0])
		}
	}
}
