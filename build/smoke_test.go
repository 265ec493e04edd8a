package build

import (
	"strings"
	"testing"
)

func TestParseBinfmt(t *testing.T) {
	// As the kernel shows Debian's qemu-user-static registration.
	entry := "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	en, interp, flags := parseBinfmt(entry)
	if !en || interp != "/usr/libexec/qemu-binfmt/aarch64-binfmt-P" || flags != "POCF" {
		t.Errorf("parseBinfmt = %v %q %q", en, interp, flags)
	}
	if en, _, _ := parseBinfmt("disabled\ninterpreter /x\nflags: \n"); en {
		t.Error("disabled entry parsed as enabled")
	}
}

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
