// Package examples_test checks what the example programs promise as
// documentation: every program under examples/ is a main package whose
// doc comment says how to run it. Each program's behaviour is tested next
// to it (examples/<name>/main_test.go).
package examples_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPrograms(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var programs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "internal" && e.Name() != "testdata" {
			programs = append(programs, e.Name())
		}
	}
	want := []string{"customtransport", "demo", "lmtp", "sendmail"}
	if !slices.Equal(programs, want) {
		t.Errorf("programs %v, want %v (update this test and the README together)", programs, want)
	}
	for _, name := range programs {
		t.Run(name, func(t *testing.T) {
			f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(name, "main.go"), nil, parser.ParseComments|parser.PackageClauseOnly)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name.Name != "main" {
				t.Errorf("package %s, want main", f.Name.Name)
			}
			if f.Doc == nil {
				t.Fatal("no package doc comment")
			}
			doc := f.Doc.Text()
			if run := "go run ./examples/" + name; !strings.Contains(doc, run) {
				t.Errorf("the package doc comment does not say %q:\n%s", run, doc)
			}
			if _, err := os.Stat(filepath.Join(name, "main_test.go")); err != nil {
				t.Errorf("no test: %v", err)
			}
		})
	}
}
