package manifest

import (
	"strings"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	src := minimal + "\n[limits]\nprocesses = 512\nmemory = \"4GiB\"\ncpu_time = \"90m\"\nwall_clock = \"2h\"\ntmpfs = \"512MiB\"\n"
	m, err := Parse("monogres.toml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{Processes: 512, Memory: 4 << 30, CPUTime: Duration(90 * time.Minute), WallClock: Duration(2 * time.Hour), Tmpfs: 512 << 20}
	if m.Limits != want {
		t.Errorf("limits = %+v, want %+v", m.Limits, want)
	}
	plain, _ := Parse("monogres.toml", []byte(minimal))
	if plain.Limits != (Limits{}) || plain.Digest() != m.Digest() {
		t.Errorf("limits changed the digest or a manifest without [limits] has some: %+v", plain.Limits)
	}
	for _, tc := range []struct{ body, want string }{
		{"memory = \"8GB\"", "monogres.toml:5:10: limits.memory: bad size"},
		{"memory = \"8GB\"", `bad size "8GB"`},
		{"tmpfs = \"-1MiB\"", `bad size "-1MiB"`},
		{"cpu_time = \"forever\"", `bad duration "forever"`},
		{"wall_clock = \"0s\"", `bad duration "0s"`},
		{"processes = -4", "limits.processes: -4 is negative"},
		{"pids = 4", `unknown key "limits.pids"`},
	} {
		_, err := Parse("monogres.toml", []byte(minimal+"\n[limits]\n"+tc.body+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.body, err, tc.want)
		}
	}
}
