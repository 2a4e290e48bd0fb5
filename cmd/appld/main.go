package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"appl/appliance"
	"appl/internal/cfgfile"
	"appl/proxy/maps"
)

//go:embed default.cfg
var defaultConfig []byte

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("appld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "configuration file (default: the embedded demo configuration)")
	check := fs.Bool("c", false, "check the configuration and exit (0 valid, 1 invalid), like haproxy -c")
	showVersion := fs.Bool("v", false, "print the version and exit")
	quiet := fs.Bool("q", false, "with -c: print nothing on success")
	noBootstrap := fs.Bool("no-bootstrap", false, "do not apply sysctl and network sections")
	witness := fs.Bool("witness", false, "run as a replication witness: a Raft voter with no proxy and no VIPs (needs a cluster section)")
	nodeName := fs.String("node", "", "name of this node's `node` block (default: the block matching the hostname)")
	adminSocket := fs.String("admin-socket", "", "admin API unix socket, overriding the admin section (`none`: no socket)")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *showVersion {
		fmt.Fprintf(stdout, "appld version %s\n", version)
		return 0
	}
	path, data := *file, defaultConfig
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "[ALERT] %v\n", err)
			return 1
		}
		data = b
	} else {
		path = "(embedded default)"
	}
	// One map store for the process: runtime map edits survive reloads.
	store := maps.NewStore()
	cfg, err := appliance.DecodeWith(path, data, store)
	if err != nil {
		printErrors(stderr, err)
		if *check {
			fmt.Fprintln(stderr, "[ALERT] Fatal errors found in configuration.")
		}
		return 1
	}
	host, _ := os.Hostname()
	if err := cfg.Select(*nodeName, host); err != nil {
		fmt.Fprintf(stderr, "[ALERT] %v\n", err)
		if *check {
			fmt.Fprintln(stderr, "[ALERT] Fatal errors found in configuration.")
		}
		return 1
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(stderr, "[WARNING] %s\n", w)
	}
	if *check {
		if !*quiet {
			fmt.Fprintln(stdout, "Configuration file is valid")
		}
		return 0
	}

	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	if *witness && *file == "" {
		log.Error("--witness needs -f FILE: the cluster's configuration file, with its cluster section")
		return 1
	}
	if *file == "" {
		ls, err := startDemoBackends()
		if err != nil {
			log.Error("cannot start the demo backends of the default configuration", zap.Error(err))
			return 1
		}
		defer closeAll(ls)
		log.Info("no -f given: running the embedded default configuration; try: curl -s http://127.0.0.1:8080/")
	}
	node, err := appliance.NewNode(cfg, log, appliance.Options{SkipBootstrap: *noBootstrap, Maps: store, Version: version, AdminSocket: *adminSocket, Witness: *witness})
	if err != nil {
		log.Error("cannot create node", zap.Error(err))
		return 1
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		for sig := range sigs {
			switch sig {
			case syscall.SIGHUP:
				reload(node, *file, log)
			default:
				log.Info("stopping", zap.String("signal", sig.String()))
				cancel()
			}
		}
	}()
	if err := node.Run(ctx, func() { notifyReady(log) }); err != nil {
		log.Error("node stopped with an error", zap.Error(err))
		return 1
	}
	return 0
}

// reload re-reads the file (selecting this node's block again); an invalid file is
// refused and the running one keeps serving.
func reload(node *appliance.Node, path string, log *zap.Logger) {
	if path == "" {
		log.Warn("reload ignored: running the embedded default configuration")
		return
	}
	if _, err := node.ReloadFile(); err != nil {
		for _, e := range errorLines(err) {
			log.Error("reload refused, the running configuration keeps serving", zap.String("error", e))
		}
		return
	}
}

func errorLines(err error) []string {
	if es := cfgfile.AsErrors(err); es != nil {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}

func printErrors(w io.Writer, err error) {
	for _, e := range errorLines(err) {
		fmt.Fprintf(w, "[ALERT] %s\n", e)
	}
}

func newLogger(w io.Writer) *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zapcore.InfoLevel)
	return zap.New(core)
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// notifyReady tells systemd (Type=notify) that the node is up, when NOTIFY_SOCKET is set.
func notifyReady(log *zap.Logger) {
	sock := os.Getenv("NOTIFY_SOCKET")
	if sock == "" {
		return
	}
	if sock[0] == '@' {
		sock = "\x00" + sock[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err == nil {
		_, err = c.Write([]byte("READY=1"))
		c.Close()
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("sd_notify", zap.Error(err))
	}
}
