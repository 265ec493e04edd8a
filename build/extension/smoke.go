package extension

import (
	"strings"

	"github.com/monogres/monogres/build"
)

// SmokeScript is the smoke test of an extension cell, run in the sandbox as
// build.SmokeUID with the Postgres package and the extension package
// extracted together at build.SmokeDir: initdb into /tmp, start the server
// on a unix socket, CREATE EXTENSION, check pg_extension lists it, run
// c.SmokeSQL (an error or a result of false fails the test), stop. Like the Postgres smoke test it reuses the relocatable
// install: nothing is at the build prefix.
func SmokeScript(c Cell) string {
	ident := `"` + strings.ReplaceAll(c.Extension, `"`, `""`) + `"`
	lit := "'" + strings.ReplaceAll(c.Extension, "'", "''") + "'"
	s := `set -eu
PG=` + build.SmokeDir + `
echo "+ initdb"
"$PG/bin/initdb" -D /tmp/data -U postgres -A trust --no-sync >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
echo "+ pg_ctl start"
"$PG/bin/pg_ctl" -D /tmp/data -o "-k /tmp -c listen_addresses=" -l /tmp/server.log -w -t 120 start >/dev/null || { cat /tmp/server.log; exit 1; }
stop() { "$PG/bin/pg_ctl" -D /tmp/data -w -t 120 stop >/dev/null; }
q() { "$PG/bin/psql" -X -h /tmp -U postgres -d postgres -v ON_ERROR_STOP=1 -At -c "$1" || { stop; cat /tmp/server.log; exit 1; }; }
echo "+ CREATE EXTENSION ` + c.Extension + `"
q ` + shQuote("CREATE EXTENSION "+ident) + `
v=$(q ` + shQuote("SELECT extversion FROM pg_extension WHERE extname = "+lit) + `)
test -n "$v" || { stop; echo "pg_extension has no ` + c.Extension + ` after CREATE EXTENSION"; exit 1; }
echo "` + c.Extension + ` $v installed"
`
	if c.SmokeSQL != "" {
		s += "echo " + shQuote("+ "+c.SmokeSQL) + "\nr=$(q " + shQuote(c.SmokeSQL) + ")\necho \"$r\"\n" +
			`test "$r" != f || { stop; echo "the smoke query returned false"; exit 1; }` + "\n"
	}
	s += `echo "+ pg_ctl stop"
stop
echo "smoke test passed"
`
	return s
}
