package sysctl

import (
	"flag"
	"fmt"
	"io"

	"appl/internal/cfgfile"
)

// DefaultConfigPath is the config file RunCLI reads unless -f says otherwise.
const DefaultConfigPath = "/etc/appl/appl.cfg"

// RunCLI implements `applctl sysctl plan|apply [--dry-run] [-f FILE]` and returns the
// exit status: 0 done, 1 failed, 2 bad usage or config. apply writes the changes, reads
// them back, then persists to the config's persist path; --dry-run only prints the plan.
func RunCLI(args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: sysctl plan|apply [--dry-run] [-v] [-f FILE] [--net-namespace-only] [--proc-root DIR]")
	}
	if len(args) == 0 || (args[0] != "plan" && args[0] != "apply") {
		usage()
		return 2
	}
	cmd := args[0]
	fl := flag.NewFlagSet("sysctl "+cmd, flag.ContinueOnError)
	fl.SetOutput(stderr)
	file := fl.String("f", DefaultConfigPath, "config file")
	dry := fl.Bool("dry-run", false, "print the plan, change nothing")
	verbose := fl.Bool("v", false, "also list keys already as wanted")
	netOnly := fl.Bool("net-namespace-only", false, "only keys of the network namespace")
	root := fl.String("proc-root", "/proc/sys", "sysctl tree (for tests)")
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if fl.NArg() != 0 {
		usage()
		return 2
	}
	f, err := cfgfile.ParseFile(*file, cfgfile.Options{})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	cfg, err := Decode(f)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	p, err := PlanFor(cfg, Env{Root: *root, NetNamespaceOnly: *netOnly})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	p.Format(stdout, *verbose)
	if cmd == "plan" || *dry {
		return 0
	}
	status := 0
	if err := Apply(p); err != nil {
		fmt.Fprintln(stderr, err)
		status = 1
	}
	if err := Verify(p); err != nil {
		fmt.Fprintln(stderr, err)
		status = 1
	}
	if cfg.PersistPath != "" {
		if err := Persist(p, cfg.PersistPath); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "persisted to %s\n", cfg.PersistPath)
	}
	return status
}
