package remote_test

import (
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/remote"
)

// TestSettings: the flag wins over MONOGRES_REMOTE_CACHE, which wins over
// the manifest's remote_cache (read from a real monogres.toml); no URL at
// all is no cache; read-only needs no signing key.
func TestSettings(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv(remote.EnvURL, "")
	t.Setenv(remote.EnvReadOnly, "")
	m, err := manifest.Parse("monogres.toml", []byte(`remote_cache = "http://manifest.example:8080/c"
[postgres]
versions = ["15.18"]
option_sets = ["barebones"]
targets = ["amd64"]
`))
	if err != nil {
		t.Fatal(err)
	}
	url := func(s remote.Settings) string {
		c, err := remote.New(s)
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return ""
		}
		return c.Client.URL()
	}
	s := remote.Settings{ManifestURL: m.RemoteCache, ReadOnly: true}
	if got := url(s); got != "http://manifest.example:8080/c" {
		t.Errorf("manifest: %q", got)
	}
	t.Setenv(remote.EnvURL, "http://env.example/")
	if got := url(s); got != "http://env.example" {
		t.Errorf("env: %q", got)
	}
	s.URL = "https://flag.example/x"
	if got := url(s); got != "https://flag.example/x" {
		t.Errorf("flag: %q", got)
	}
	t.Setenv(remote.EnvURL, "")
	if got := url(remote.Settings{}); got != "" {
		t.Errorf("nothing configured: %q", got)
	}
	t.Setenv(remote.EnvReadOnly, "1")
	c, err := remote.New(remote.Settings{URL: "http://x.example"})
	if err != nil || !c.ReadOnly || c.Signer != nil {
		t.Errorf("%s=1: %+v %v", remote.EnvReadOnly, c, err)
	}
	if _, err := remote.New(remote.Settings{ManifestURL: "ftp://x"}); err == nil || !strings.Contains(err.Error(), "remote_cache in the manifest") {
		t.Errorf("a bad manifest URL: %v", err)
	}
}
