package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"appl/proxy/maps"
	"appl/proxy/runtime"
)

// Committer commits one entry of a stream and returns once it is applied on this node
// (replication.Node.Commit).
type Committer func(ctx context.Context, stream string, payload []byte) error

// ServerCommit commits a runtime server change: admin "" (unchanged), "ready", "drain"
// or "maint"; weight -1 unchanged.
type ServerCommit func(ctx context.Context, backend, server, admin string, weight int) error

// Writes turns the runtime API's write commands into committed entries. Every field is
// required.
type Writes struct {
	Maps   *maps.Store
	Commit Committer
	Server ServerCommit
	// ServerExists answers runtime.ErrNoBackend or runtime.ErrNoServer for an unknown
	// server, so a bad name is refused before anything is committed.
	ServerExists func(backend, server string) error
	// Timeout bounds one write (default 5 s).
	Timeout time.Duration
}

// writeLevel is the least runtime level of each replicated command (as the runtime
// package's own table has it).
func writeLevel(args []string) (runtime.Level, bool) {
	if len(args) < 2 {
		return 0, false
	}
	switch args[0] + " " + args[1] {
	case "add map", "add acl", "set map", "del map", "del acl", "clear map", "clear acl":
		return runtime.LevelOperator, true
	case "enable server", "disable server", "set weight":
		return runtime.LevelAdmin, true
	case "set server":
		if len(args) >= 4 && (args[3] == "state" || args[3] == "weight") {
			return runtime.LevelAdmin, true
		}
	}
	return 0, false
}

// Handles says whether args is a write this package commits.
func Handles(args []string) bool {
	_, ok := writeLevel(args)
	return ok
}

// Handle runs args when it is a replicated write, at the session's level, and returns
// the answer lines (each ended by "\n"; "" for success) and true. Other commands return
// false and are the runtime server's.
func (w *Writes) Handle(level runtime.Level, args []string) (string, bool) {
	need, ok := writeLevel(args)
	if !ok {
		return "", false
	}
	if level < need {
		return "Permission denied\n", true
	}
	to := w.Timeout
	if to <= 0 {
		to = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), to)
	defer cancel()
	var ans string
	switch args[0] + " " + args[1] {
	case "add map":
		ans = w.addRef(ctx, true, args)
	case "add acl":
		ans = w.addRef(ctx, false, args)
	case "set map":
		ans = w.setMap(ctx, args)
	case "del map":
		ans = w.delRef(ctx, true, args)
	case "del acl":
		ans = w.delRef(ctx, false, args)
	case "clear map":
		ans = w.clearRef(ctx, true, args)
	case "clear acl":
		ans = w.clearRef(ctx, false, args)
	default:
		ans = w.server(ctx, args)
	}
	if ans != "" && !strings.HasSuffix(ans, "\n") {
		ans += "\n"
	}
	return ans, true
}

// ErrorLine is the runtime answer for a failed commit: "no quorum: ..." without the
// package prefix, on one line.
func ErrorLine(err error) string {
	s := strings.TrimPrefix(err.Error(), "replication: ")
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r", " "), "\n", " ")
}

func kindName(isMap bool) string {
	if isMap {
		return "map"
	}
	return "ACL"
}

func (w *Writes) ref(isMap bool, name string) (*maps.Ref, string) {
	var r *maps.Ref
	if w.Maps != nil && name != "" {
		r = w.Maps.Ref(name)
	}
	if r == nil || r.IsMap() != isMap {
		return nil, "Unknown " + kindName(isMap) + " identifier. Please use #<id> or <file>."
	}
	return r, ""
}

func (w *Writes) commit(ctx context.Context, ds ...maps.Delta) string {
	if err := w.Commit(ctx, StreamMaps, maps.MarshalDeltas(ds)); err != nil {
		if errors.Is(err, maps.ErrNotFound) {
			return ""
		}
		return ErrorLine(err)
	}
	return ""
}

func (w *Writes) addRef(ctx context.Context, isMap bool, args []string) string {
	if isMap && len(args) < 5 {
		return "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload"
	}
	if !isMap && len(args) < 4 {
		return "'add acl' expects two parameters: ACL identifier and pattern."
	}
	r, msg := w.ref(isMap, args[2])
	if r == nil {
		return msg
	}
	key, val := args[3], ""
	if isMap {
		val = args[4]
	}
	if err := r.CheckKey(key); err != nil {
		return ErrorLine(err)
	}
	if strings.ContainsAny(val, "\r\n") {
		return "values cannot contain line breaks"
	}
	return w.commit(ctx, maps.Delta{Map: r.Name(), IsMap: isMap, Op: maps.OpAdd, Key: key, Value: val})
}

// entryRef reads "#<ref>" as `show map` prints it, like the runtime package does.
func entryRef(s string) (id uint64, isRef, ok bool) {
	if !strings.HasPrefix(s, "#") {
		return 0, false, false
	}
	id, ok = maps.ParseRef(s)
	if !ok && len(s) > 1 {
		id, ok = maps.ParseRef("#0x" + s[1:])
	}
	return id, true, ok
}

func (w *Writes) setMap(ctx context.Context, args []string) string {
	if len(args) < 5 {
		return "'set map' expects three parameters: map identifier, key and value."
	}
	r, msg := w.ref(true, args[2])
	if r == nil {
		return msg
	}
	if strings.ContainsAny(args[4], "\r\n") {
		return "values cannot contain line breaks"
	}
	d := maps.Delta{Map: r.Name(), IsMap: true, Op: maps.OpSet, Value: args[4]}
	notFound := "entry not found."
	if id, isRef, ok := entryRef(args[3]); isRef {
		if _, there := r.Get(id); !ok || !there {
			return "key or pattern not found."
		}
		d.ID, notFound = id, "key or pattern not found."
	} else {
		d.Key = args[3]
		if len(r.FindKey(d.Key)) == 0 {
			return notFound
		}
	}
	return w.commitFound(ctx, notFound, d)
}

// commitFound commits d; an entry gone by the time it applies answers notFound.
func (w *Writes) commitFound(ctx context.Context, notFound string, d maps.Delta) string {
	err := w.Commit(ctx, StreamMaps, maps.MarshalDeltas([]maps.Delta{d}))
	switch {
	case err == nil:
		return ""
	case errors.Is(err, maps.ErrNotFound) || strings.Contains(err.Error(), maps.ErrNotFound.Error()):
		return notFound
	}
	return ErrorLine(err)
}

func (w *Writes) delRef(ctx context.Context, isMap bool, args []string) string {
	if len(args) < 4 {
		return "This command expects two parameters: " + kindName(isMap) + " identifier and key."
	}
	r, msg := w.ref(isMap, args[2])
	if r == nil {
		return msg
	}
	d := maps.Delta{Map: r.Name(), IsMap: isMap, Op: maps.OpDel}
	if id, isRef, ok := entryRef(args[3]); isRef {
		if _, there := r.Get(id); !ok || !there {
			return "Key not found."
		}
		d.ID = id
	} else {
		d.Key = args[3]
		if len(r.FindKey(d.Key)) == 0 {
			return "Key not found."
		}
	}
	return w.commitFound(ctx, "Key not found.", d)
}

func (w *Writes) clearRef(ctx context.Context, isMap bool, args []string) string {
	if len(args) < 3 || args[2] == "" {
		return "Missing " + kindName(isMap) + " identifier."
	}
	r, msg := w.ref(isMap, args[2])
	if r == nil {
		return msg
	}
	return w.commit(ctx, maps.Delta{Map: r.Name(), IsMap: isMap, Op: maps.OpClear})
}

// server handles `set server B/S state|weight`, `set weight B/S W`, `enable|disable
// server B/S`, with the runtime package's answers for bad input.
func (w *Writes) server(ctx context.Context, args []string) string {
	verb := args[0] + " " + args[1]
	if len(args) < 3 {
		return "Require 'backend/server'."
	}
	be, srv, ok := strings.Cut(args[2], "/")
	if !ok || be == "" || srv == "" {
		return "Require 'backend/server'."
	}
	admin, weight := "", -1
	switch verb {
	case "enable server":
		admin = "ready"
	case "disable server":
		admin = "maint"
	case "set weight":
		if len(args) < 4 {
			return "Require <weight> or <weight%>."
		}
		n, err := parseWeight(args[3])
		if err != "" {
			return err
		}
		weight = n
	default: // set server B/S state|weight V
		if len(args) < 5 {
			if args[3] == "state" {
				return "'set server <srv> state' expects 'ready', 'drain' and 'maint'."
			}
			return "Require <weight> or <weight%>."
		}
		if args[3] == "state" {
			switch args[4] {
			case "ready", "drain", "maint":
				admin = args[4]
			default:
				return "'set server <srv> state' expects 'ready', 'drain' and 'maint'."
			}
		} else {
			n, err := parseWeight(args[4])
			if err != "" {
				return err
			}
			weight = n
		}
	}
	if err := w.ServerExists(be, srv); err != nil {
		return ErrorLine(err)
	}
	if err := w.Server(ctx, be, srv, admin, weight); err != nil {
		return ErrorLine(err)
	}
	return ""
}

func parseWeight(s string) (int, string) {
	if strings.HasSuffix(s, "%") {
		return 0, "Relative weights (%) are not replicated; give an absolute weight from 0 to 256."
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 256 {
		return 0, "Absolute weight can only be between 0 and 256 inclusive."
	}
	return n, ""
}
