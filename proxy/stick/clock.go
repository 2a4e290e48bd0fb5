package stick

import (
	"sync"
	"sync/atomic"
	"time"
)

// The default clock is coarse, like HAProxy's now_ms: time.Now costs about
// 100 ns on the appliance's VMs, as much as the rest of a table update, so
// a process-wide goroutine refreshes the time every millisecond and the
// data plane reads it with one atomic load. Rates and expiry count in
// milliseconds anyway; UpdatedAt stays strictly increasing per entry.
var coarse struct {
	once sync.Once
	ns   atomic.Int64
}

const coarseTick = time.Millisecond

func startCoarse() {
	base := time.Now()
	baseNs := base.UnixNano()
	coarse.ns.Store(baseNs)
	go func() {
		tk := time.NewTicker(coarseTick)
		for range tk.C {
			// Wall-clock scale, monotonic progress: a wall clock step
			// does not expire every entry at once.
			coarse.ns.Store(baseNs + int64(time.Since(base)))
		}
	}()
}

// clockFunc turns Options.Now into the table's nanosecond clock; nil
// means the coarse clock (read inline by Table.clock).
func clockFunc(now func() time.Time) func() int64 {
	if now == nil {
		return nil
	}
	base := now()
	baseNs := base.UnixNano()
	return func() int64 { return baseNs + int64(now().Sub(base)) }
}
