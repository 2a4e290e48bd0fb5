package netsetup

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"appl/internal/cfgfile"
)

// DefaultConfigPath is the config file RunCLI reads unless -f says otherwise.
const DefaultConfigPath = "/etc/appl/appl.cfg"

// RunCLI implements `applctl network plan|apply [--dry-run] [--try N] [--force] [-f FILE]`
// and returns the exit status: 0 done (or nothing to do), 1 failed or rolled back, 2 bad
// usage or config. With --try N, apply waits N seconds for ENTER on standard input and
// rolls back otherwise (also on EOF, e.g. a dropped SSH session, or SIGINT/SIGTERM/SIGHUP).
func RunCLI(args []string, stdout, stderr io.Writer) int {
	return runCLI(args, os.Stdin, stdout, stderr)
}

func runCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: network plan|apply [--dry-run] [--try SECONDS] [--force] [--admin-addr IP] [--netns PATH] [-f FILE]")
	}
	if len(args) == 0 || (args[0] != "plan" && args[0] != "apply") {
		usage()
		return 2
	}
	cmd := args[0]
	fl := flag.NewFlagSet("network "+cmd, flag.ContinueOnError)
	fl.SetOutput(stderr)
	file := fl.String("f", DefaultConfigPath, "config file")
	dry := fl.Bool("dry-run", false, "print the plan, change nothing")
	try := fl.Int("try", 0, "roll back after SECONDS unless confirmed with ENTER")
	force := fl.Bool("force", false, "apply even if it removes the address you are connected through")
	admin := fl.String("admin-addr", "", "local address the admin is connected through (default: from SSH_CONNECTION)")
	nsPath := fl.String("netns", "", "network namespace to work in (default: the current one)")
	if err := fl.Parse(args[1:]); err != nil {
		return 2
	}
	if fl.NArg() != 0 || *try < 0 {
		usage()
		return 2
	}
	opt := Options{Force: *force, AdminAddr: AdminAddrFromEnv()}
	if *admin != "" {
		a, err := netip.ParseAddr(*admin)
		if err != nil {
			fmt.Fprintf(stderr, "bad --admin-addr %q: expected an IP address\n", *admin)
			return 2
		}
		opt.AdminAddr = a.Unmap()
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
	var s *System
	if *nsPath != "" {
		s, err = OpenNetNS(*nsPath)
	} else {
		s, err = Open()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer s.Close()
	p, err := PlanFor(s, cfg, opt)
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, ErrAdminAddr) {
			return 2
		}
		return 1
	}
	p.Format(stdout)
	if cmd == "plan" || *dry || p.Empty() {
		return 0
	}
	if *try == 0 {
		if _, err := Apply(s, p); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := Verify(s, cfg); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintln(stdout, "applied")
		return 0
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	confirm := make(chan bool, 1)
	fmt.Fprintf(stdout, "applying; press ENTER within %d seconds to keep this configuration, or it is rolled back\n", *try)
	go func() {
		// A line confirms; EOF (the session is gone) refuses at once.
		_, err := bufio.NewReader(stdin).ReadString('\n')
		confirm <- err == nil
	}()
	kept, err := Try(ctx, s, p, time.Duration(*try)*time.Second, confirm)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !kept {
		fmt.Fprintln(stdout, "not confirmed: rolled back to the previous configuration")
		return 1
	}
	if err := Verify(s, cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "confirmed: configuration kept")
	return 0
}
