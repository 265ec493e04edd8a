package build

import (
	"strings"
	"testing"
)

func TestSmokeScript(t *testing.T) {
	s := SmokeScript(testCell(15, "amd64"))
	for _, want := range []string{`"$PG/bin/postgres" --version`, "initdb", "pg_ctl", "SELECT version()", `"PostgreSQL 15.18 "*`, "CREATE EXTENSION pg_trgm", "CREATE EXTENSION hstore", "stop"} {
		if !contains(s, want) {
			t.Errorf("smoke script lacks %q", want)
		}
	}
}

func TestSmokeScriptOptions(t *testing.T) {
	bare := SmokeScript(testCell(18, "amd64"))
	reg := SmokeScript(testCell(18, "amd64", "llvm", "plpython"))
	for _, want := range []string{"pg_jit_available()", "jit_above_cost = 0", "Functions: [1-9]", "CREATE EXTENSION plpython3u", "py_add(40, 2)"} {
		if contains(bare, want) {
			t.Errorf("barebones smoke script has %q", want)
		}
		if !contains(reg, want) {
			t.Errorf("llvm+plpython smoke script lacks %q", want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
