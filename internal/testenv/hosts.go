package testenv

import (
	"path/filepath"
	"syscall"
	"testing"
)

// Host is what differs between two machines building the same lock that
// must not change a root digest or an action key.
type Host struct {
	Umask    int
	Store    string // a store directory of its own, not yet created
	TZ, Lang string
}

// TwoHosts are two such machines: umask 022 and 077, store paths of
// different depths, other time zones and locales.
func TwoHosts(t testing.TB) []Host {
	return []Host{
		{0o022, filepath.Join(t.TempDir(), "s"), "UTC", "C.UTF-8"},
		{0o077, filepath.Join(t.TempDir(), "a", "much", "deeper", "store"), "Pacific/Chatham", "de_DE.ISO-8859-1"},
	}
}

// Enter sets h's time zone and locale for the rest of t and its umask
// until the returned func is called.
func (h Host) Enter(t testing.TB) (leave func()) {
	t.Setenv("TZ", h.TZ)
	t.Setenv("LANG", h.Lang)
	t.Setenv("LC_ALL", h.Lang)
	old := syscall.Umask(h.Umask)
	return func() { syscall.Umask(old) }
}
