package main

import (
	"fmt"
	"io"
	"os"

	"appl/appliance"
	"appl/internal/cfgfile"
	"appl/netsetup"
	"appl/sysctl"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage: applctl COMMAND [ARGS]

available now:
  config check FILE          check a configuration file (like appld -c -f FILE)
  sysctl plan|apply ...      kernel tuning from the sysctl section (see docs/sysctl.md)
  network plan|apply ...     interfaces, bridges, routes, TPROXY (see docs/network.md)

not available yet (exit 2):
  status, failover, maint, drain, ready, reload, map, table, config push,
  cluster, migrate
`

// notYet lists subcommands that a later part of appl owns.
var notYet = map[string]bool{
	"status": true, "failover": true, "maint": true, "drain": true, "ready": true,
	"reload": true, "map": true, "table": true, "cluster": true, "migrate": true,
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, rest := args[0], args[1:]
	switch {
	case cmd == "sysctl":
		return sysctl.RunCLI(rest, stdout, stderr)
	case cmd == "network":
		return netsetup.RunCLI(rest, stdout, stderr)
	case cmd == "config" && len(rest) == 2 && rest[0] == "check":
		return configCheck(rest[1], stdout, stderr)
	case cmd == "config" && len(rest) > 0 && rest[0] == "push", notYet[cmd]:
		fmt.Fprintf(stderr, "applctl %s: not available yet\n", cmd)
		return 2
	}
	fmt.Fprintf(stderr, "applctl: unknown command %q\n\n%s", cmd, usage)
	return 2
}

func configCheck(path string, stdout, stderr io.Writer) int {
	cfg, err := appliance.Load(path, nil)
	if err != nil {
		if es := cfgfile.AsErrors(err); es != nil {
			for _, e := range es {
				fmt.Fprintf(stderr, "[ALERT] %s\n", e)
			}
		} else {
			fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		}
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "[WARNING] %s\n", w)
	}
	fmt.Fprintf(stdout, "Configuration file is valid (sha256 %s)\n", cfg.Hash)
	return 0
}
