package sysctl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Env is where a plan reads and writes.
type Env struct {
	// Root is the /proc/sys tree; "" means /proc/sys. Tests point it at a fake tree.
	Root string
	// Mem scales the profile; zero fields are read from /proc/meminfo and the page size.
	Mem Memory
	// NetNamespaceOnly limits the plan to keys of the network namespace: the others are
	// listed as skipped. For a box whose appld runs in its own network namespace.
	NetNamespaceOnly bool
}

func (e Env) root() string {
	if e.Root == "" {
		return "/proc/sys"
	}
	return e.Root
}

// Action is what a plan does with one key.
type Action int

const (
	Keep    Action = iota // live value already as wanted
	Set                   // live value differs: write
	Missing               // the kernel (or this namespace) has no such key: reported, not fatal
	Skip                  // outside the plan's scope
)

func (a Action) String() string {
	return [...]string{"keep", "set", "missing", "skip"}[a]
}

// Item is one key of a plan.
type Item struct {
	Want
	Live   string // "" when missing
	Action Action
	Reason string // why Missing or Skip, or why a higher live limit was kept
}

// Plan is the diff between the desired and the live values.
type Plan struct {
	Items []Item
	root  string
}

// Changes returns the items that Apply writes.
func (p *Plan) Changes() []Item {
	var out []Item
	for _, it := range p.Items {
		if it.Action == Set {
			out = append(out, it)
		}
	}
	return out
}

// Empty reports whether Apply would write nothing.
func (p *Plan) Empty() bool { return len(p.Changes()) == 0 }

// Format writes the diff: "~" for a change, "=" kept, "!" missing, "-" skipped.
func (p *Plan) Format(w io.Writer, verbose bool) {
	n := 0
	for _, it := range p.Items {
		switch it.Action {
		case Set:
			live := it.Live
			fmt.Fprintf(w, "~ %s = %s -> %s  (%s)\n", it.Key, live, it.Value, it.Source)
			n++
		case Missing:
			fmt.Fprintf(w, "! %s: %s, not set  (%s)\n", it.Key, it.Reason, it.Source)
		case Skip:
			if verbose {
				fmt.Fprintf(w, "- %s: %s\n", it.Key, it.Reason)
			}
		case Keep:
			if verbose {
				if it.Reason != "" {
					fmt.Fprintf(w, "= %s = %s  (%s)\n", it.Key, it.Live, it.Reason)
				} else {
					fmt.Fprintf(w, "= %s = %s\n", it.Key, it.Live)
				}
			}
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "no sysctl change")
	} else {
		fmt.Fprintf(w, "%d sysctl change(s)\n", n)
	}
}

func (p *Plan) String() string {
	var b bytes.Buffer
	p.Format(&b, false)
	return b.String()
}

// ReadMemory reads total RAM from /proc/meminfo and the page size.
func ReadMemory() (Memory, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 2 && fs[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fs[1], 10, 64)
			if err != nil {
				return Memory{}, fmt.Errorf("/proc/meminfo: bad MemTotal %q", fs[1])
			}
			return Memory{Bytes: kb * 1024, PageSize: uint64(os.Getpagesize())}, nil
		}
	}
	return Memory{}, errors.New("/proc/meminfo: no MemTotal line")
}

// ReadKey reads the live value of key under root, fields separated by one space.
// A missing key gives an error satisfying errors.Is(err, fs.ErrNotExist).
func ReadKey(root, key string) (string, error) {
	if root == "" {
		root = "/proc/sys"
	}
	b, err := os.ReadFile(keyPath(root, key))
	if err != nil {
		return "", err
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

// PlanFor compares cfg with the live values under env. Missing keys are items, not
// errors; only an unreadable tree or unknown memory is an error.
func PlanFor(cfg *Config, env Env) (*Plan, error) {
	mem := env.Mem
	if cfg.Profile != "" && (mem.Bytes == 0 || mem.PageSize == 0) {
		m, err := ReadMemory()
		if err != nil {
			return nil, fmt.Errorf("sysctl: cannot size the profile: %w", err)
		}
		if mem.Bytes == 0 {
			mem.Bytes = m.Bytes
		}
		if mem.PageSize == 0 {
			mem.PageSize = m.PageSize
		}
	}
	p := &Plan{root: env.root()}
	for _, w := range Wants(cfg, mem) {
		it := Item{Want: w}
		spec, known := lookupKey(w.Key)
		if env.NetNamespaceOnly && (!known || spec.ns != NSNet) {
			it.Action, it.Reason = Skip, "not a network-namespace key"
			p.Items = append(p.Items, it)
			continue
		}
		live, err := ReadKey(p.root, w.Key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			it.Action = Missing
			switch {
			case spec.removed != "":
				it.Reason = "removed from Linux in " + spec.removed
			case known && spec.ns == NSGlobal && strings.HasPrefix(w.Key, "net."):
				it.Reason = "not in this network namespace (a global key: set it from the host's namespace)"
			default:
				it.Reason = "not present in this kernel or namespace"
			}
		case err != nil:
			return nil, fmt.Errorf("sysctl: read %s: %w", w.Key, err)
		default:
			it.Live = live
			it.Action = Set
			if live == w.Value {
				it.Action = Keep
			} else if w.AtLeast {
				if lv, err := strconv.ParseUint(live, 10, 64); err == nil {
					if wv, _ := strconv.ParseUint(w.Value, 10, 64); lv >= wv {
						it.Action, it.Reason = Keep, "live limit already >= "+w.Value
					}
				}
			}
		}
		p.Items = append(p.Items, it)
	}
	return p, nil
}

// Apply writes every changed key. It goes on after a failure so one rejected key does not
// leave the rest untuned; the returned error names each key that failed.
func Apply(p *Plan) error {
	var errs []error
	for _, it := range p.Changes() {
		if err := writeKey(p.root, it.Key, it.Value); err != nil {
			errs = append(errs, fmt.Errorf("sysctl: set %s = %s (%s): %w", it.Key, it.Value, it.Source, err))
		}
	}
	return errors.Join(errs...)
}

func writeKey(root, key, value string) error {
	// No O_CREATE: a key that vanished must fail, not become a file in a fake tree.
	f, err := os.OpenFile(keyPath(root, key), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Verify reads every planned key back and reports those that do not hold the wanted value
// (the kernel may clamp or refuse silently).
func Verify(p *Plan) error {
	var errs []error
	for _, it := range p.Items {
		if it.Action != Set && it.Action != Keep {
			continue
		}
		live, err := ReadKey(p.root, it.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl: verify %s: %w", it.Key, err))
			continue
		}
		if live == it.Value || (it.Action == Keep && it.Reason != "") {
			continue
		}
		errs = append(errs, fmt.Errorf("sysctl: verify %s: kernel holds %q, wanted %q", it.Key, live, it.Value))
	}
	return errors.Join(errs...)
}

// Persist writes the plan as a sysctl.d file so the tuning survives a reboot. It writes the
// wanted value of every key the kernel has (changed or not), except limits the box already
// exceeds; missing keys are written as comments. The file is replaced atomically.
func Persist(p *Plan, path string) error {
	var b bytes.Buffer
	b.WriteString("# Written by appl from the sysctl section of its config; edits are overwritten.\n")
	for _, it := range p.Items {
		switch {
		case it.Action == Missing:
			fmt.Fprintf(&b, "# %s = %s  (%s)\n", it.Key, it.Value, it.Reason)
		case it.Action == Skip:
		case it.Action == Keep && it.Reason != "":
			fmt.Fprintf(&b, "# %s = %s  (%s)\n", it.Key, it.Value, it.Reason)
		default:
			fmt.Fprintf(&b, "%s = %s\n", it.Key, it.Value)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".appl-sysctl-*")
	if err != nil {
		return fmt.Errorf("sysctl: persist: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("sysctl: persist: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("sysctl: persist: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sysctl: persist: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sysctl: persist: %w", err)
	}
	return nil
}

func parseUint(args []string) (uint64, error) {
	if len(args) != 1 {
		return 0, errors.New("expected one number")
	}
	return strconv.ParseUint(args[0], 10, 64)
}
