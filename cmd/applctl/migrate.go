package main

import (
	"fmt"
	"io"
	"os"

	"appl/appliance"
	"appl/vrrp/kaconf"
)

const migrateUsage = `usage: applctl migrate keepalived FILE
  translates the vrrp_instance and vrrp_sync_group blocks of a keepalived.conf into
  appl vrrp and vrrp-group sections on stdout; what was not migrated goes to stderr
`

// migrate prints the translation, and exits 1 when FILE cannot be read or parsed or
// when appl's own decoder refuses the result (the errors say which line and why).
func migrate(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "keepalived" {
		fmt.Fprint(stderr, migrateUsage)
		return exitUsage
	}
	path := args[1]
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "applctl migrate: %v\n", err)
		return exitFailed
	}
	res, err := kaconf.Translate(path, data)
	if err != nil {
		fmt.Fprintf(stderr, "applctl migrate: %s: %v\n", path, err)
		return exitFailed
	}
	fmt.Fprint(stdout, res.Config)
	fmt.Fprintf(stderr, "applctl migrate: %d vrrp instance(s), %d group(s) translated; %d item(s) not migrated (marked `# not migrated` in the output)\n",
		res.Instances, res.Groups, len(res.NotMigrated))
	for _, n := range res.NotMigrated {
		fmt.Fprintf(stderr, "  %s: %s\n", path, n)
	}
	// The output is checked the way appld -c would read it inside a configuration.
	if _, err := appliance.Decode("(migrated "+path+")", []byte("global\n"+res.Config)); err != nil {
		fmt.Fprintf(stderr, "applctl migrate: the translation needs editing before appl accepts it (line numbers count the output plus one `global` line):\n%v\n", err)
		return exitFailed
	}
	return exitOK
}
