package tcprules

import (
	"fmt"
	"strconv"

	"appl/proxy/acl"
	"appl/proxy/stick"
)

// The stick-counter fetches and table converters, registered into acl's registry so
// that conditions and expressions can use them: sc_*(N[,table]), scN_*([table]),
// src_*([table]), table_avl/table_cnt([table]), in_table(table), table_*(table).
// They read the Session through Txn.Ext; on a Txn without one they find nothing.

// what a counter fetch reads or does.
type op uint8

const (
	opGet op = iota
	opInc0
	opInc1
	opClr0
	opClr1
	opKBytes // counter / 1024
	opTrackers
	opUpdtConnCnt
)

type scFetch struct {
	suffix string
	dt     stick.DataType
	op     op
}

// scFetches are the suffixes of sc_*, scN_* and src_* (HAProxy 2.6 names).
var scFetches = []scFetch{
	{"conn_cnt", stick.DataConnCnt, opGet},
	{"conn_cur", stick.DataConnCur, opGet},
	{"conn_rate", stick.DataConnRate, opGet},
	{"sess_cnt", stick.DataSessCnt, opGet},
	{"sess_rate", stick.DataSessRate, opGet},
	{"http_req_cnt", stick.DataHTTPReqCnt, opGet},
	{"http_req_rate", stick.DataHTTPReqRate, opGet},
	{"http_err_cnt", stick.DataHTTPErrCnt, opGet},
	{"http_err_rate", stick.DataHTTPErrRate, opGet},
	{"http_fail_cnt", stick.DataHTTPFailCnt, opGet},
	{"http_fail_rate", stick.DataHTTPFailRate, opGet},
	{"bytes_in_rate", stick.DataBytesInRate, opGet},
	{"bytes_out_rate", stick.DataBytesOutRate, opGet},
	{"kbytes_in", stick.DataBytesInCnt, opKBytes},
	{"kbytes_out", stick.DataBytesOutCnt, opKBytes},
	{"get_gpc0", stick.DataGPC0, opGet},
	{"get_gpc1", stick.DataGPC1, opGet},
	{"gpc0_rate", stick.DataGPC0Rate, opGet},
	{"gpc1_rate", stick.DataGPC1Rate, opGet},
	{"get_gpt0", stick.DataGPT0, opGet},
	{"inc_gpc0", stick.DataGPC0, opInc0},
	{"inc_gpc1", stick.DataGPC1, opInc1},
	{"clr_gpc0", stick.DataGPC0, opClr0},
	{"clr_gpc1", stick.DataGPC1, opClr1},
	{"trackers", 0, opTrackers},
}

func init() {
	for _, f := range scFetches {
		f := f
		acl.RegisterFetch(acl.Fetch{Name: "sc_" + f.suffix, MinArgs: 1, MaxArgs: 2, Out: acl.TypeInt,
			Prepare: prepareSC(true), Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
				return scValue(t, int(a[0].Int), a[1:], f)
			}})
		for n := 0; n < MaxSC; n++ {
			n := n
			acl.RegisterFetch(acl.Fetch{Name: "sc" + strconv.Itoa(n) + "_" + f.suffix, MaxArgs: 1, Out: acl.TypeInt,
				Prepare: prepareSC(false), Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
					return scValue(t, n, a, f)
				}})
		}
		acl.RegisterFetch(acl.Fetch{Name: "src_" + f.suffix, MaxArgs: 1, Out: acl.TypeInt,
			Prepare: prepareSC(false), Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
				return srcValue(t, a, f)
			}})
	}
	acl.RegisterFetch(acl.Fetch{Name: "src_updt_conn_cnt", MaxArgs: 1, Out: acl.TypeInt,
		Prepare: prepareSC(false), Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
			return srcValue(t, a, scFetch{"updt_conn_cnt", stick.DataConnCnt, opUpdtConnCnt})
		}})
	acl.RegisterFetch(acl.Fetch{Name: "sc_tracked", MinArgs: 1, MaxArgs: 2, Out: acl.TypeBool,
		Prepare: prepareSC(true), Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
			return scTracked(t, int(a[0].Int))
		}})
	for n := 0; n < MaxSC; n++ {
		n := n
		acl.RegisterFetch(acl.Fetch{Name: "sc" + strconv.Itoa(n) + "_tracked", MaxArgs: 1, Out: acl.TypeBool,
			Prepare: prepareSC(false), Fn: func(t *acl.Txn, _ []acl.Arg) (acl.Sample, bool) {
				return scTracked(t, n)
			}})
	}
	acl.RegisterFetch(acl.Fetch{Name: "table_avl", MaxArgs: 1, Out: acl.TypeInt, Prepare: prepareSC(false),
		Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
			tb := tableArg(t, a, 0)
			if tb == nil {
				return acl.Sample{}, false
			}
			return acl.IntSample(int64(tb.Size() - tb.Len())), true
		}})
	acl.RegisterFetch(acl.Fetch{Name: "table_cnt", MaxArgs: 1, Out: acl.TypeInt, Prepare: prepareSC(false),
		Fn: func(t *acl.Txn, a []acl.Arg) (acl.Sample, bool) {
			tb := tableArg(t, a, 0)
			if tb == nil {
				return acl.Sample{}, false
			}
			return acl.IntSample(int64(tb.Len())), true
		}})
	registerConverters()
}

// prepareSC checks the arguments: a counter number first when counter is set, then an
// optional table name (checked against the configuration when the decoder knows them).
func prepareSC(counter bool) func([]acl.Arg, *acl.Options) error {
	return func(a []acl.Arg, opt *acl.Options) error {
		if counter {
			if len(a) == 0 {
				return fmt.Errorf("missing stick counter number (expected 0, 1 or 2)")
			}
			n, err := scNumber(a[0].Str)
			if err != nil {
				return err
			}
			a[0].Int = int64(n)
			a = a[1:]
		}
		if len(a) > 0 {
			if a[0].Str == "" {
				return fmt.Errorf("empty table name")
			}
			if opt != nil && opt.Known != nil && !opt.Known("table", a[0].Str) {
				return fmt.Errorf("unknown stick-table %q", a[0].Str)
			}
		}
		return nil
	}
}

func session(t *acl.Txn) *Session {
	s, _ := t.Ext.(*Session)
	return s
}

// tableArg returns the table named by a[i], or the current proxy's table without one.
func tableArg(t *acl.Txn, a []acl.Arg, i int) *stick.Table {
	s := session(t)
	if s == nil || s.cur == nil {
		return nil
	}
	if i < len(a) {
		return s.cur.build.lookup(a[i].Str)
	}
	return s.cur.Table()
}

// scValue is sc_X(n[,table]) and scN_X([table]): the counter's entry, or with a table
// the entry of the same key in that table (0 when absent). No sample when nothing is
// tracked or the table does not store X.
func scValue(t *acl.Txn, n int, a []acl.Arg, f scFetch) (acl.Sample, bool) {
	s := session(t)
	if s == nil || n < 0 || n >= MaxSC || s.sc[n].e == nil {
		return acl.Sample{}, false
	}
	e, tb := s.sc[n].e, s.sc[n].t
	if len(a) > 0 && s.cur != nil {
		other := s.cur.build.lookup(a[0].Str)
		if other == nil {
			return acl.Sample{}, false
		}
		if other != tb {
			// Rare: re-key the tracked key for the other table.
			k, err := other.ParseKey(tb.FormatKey(e.Key()))
			if err != nil {
				return acl.Sample{}, false
			}
			tb = other
			e = other.Lookup(k)
			if e == nil && (f.op == opInc0 || f.op == opInc1 || f.op == opClr0 || f.op == opClr1) {
				if e, err = other.GetOrCreate(k); err != nil {
					return acl.Sample{}, false
				}
			}
		}
	}
	return entryValue(tb, e, f)
}

// srcValue is src_X([table]): the entry of the source address, 0 when absent; the
// inc/clr forms create it, as HAProxy does.
func srcValue(t *acl.Txn, a []acl.Arg, f scFetch) (acl.Sample, bool) {
	tb := tableArg(t, a, 0)
	if tb == nil || !t.Src.IsValid() {
		return acl.Sample{}, false
	}
	k, ok := tb.AddrKey(t.Src.Addr())
	if !ok {
		return acl.Sample{}, false
	}
	var e *stick.Entry
	switch f.op {
	case opInc0, opInc1, opClr0, opClr1, opUpdtConnCnt:
		var err error
		if e, err = tb.GetOrCreate(k); err != nil {
			return acl.Sample{}, false
		}
	default:
		e = tb.Lookup(k)
	}
	return entryValue(tb, e, f)
}

func entryValue(tb *stick.Table, e *stick.Entry, f scFetch) (acl.Sample, bool) {
	if f.op == opTrackers {
		if e == nil {
			return acl.IntSample(0), true
		}
		return acl.IntSample(int64(e.Use())), true
	}
	if !tb.Stores(f.dt) {
		return acl.Sample{}, false
	}
	if e == nil {
		return acl.IntSample(0), true
	}
	var v uint64
	switch f.op {
	case opInc0:
		v = e.IncGPC0()
	case opInc1:
		v = e.IncGPC1()
	case opClr0:
		v = e.ClrGPC0()
	case opClr1:
		v = e.ClrGPC1()
	case opUpdtConnCnt:
		e.Add(stick.DataConnCnt, 1)
		v, _ = e.Get(stick.DataConnCnt)
	default:
		v, _ = e.Get(f.dt)
		if f.op == opKBytes {
			v >>= 10
		}
	}
	return acl.IntSample(int64(v)), true
}

func scTracked(t *acl.Txn, n int) (acl.Sample, bool) {
	s := session(t)
	if s == nil || n < 0 || n >= MaxSC {
		return acl.BoolSample(false), true
	}
	return acl.BoolSample(s.sc[n].e != nil), true
}

// tableConvs are the table_* converters: the value of X for the input key in a table
// (0 when the key is absent, no sample when X is not stored).
var tableConvs = []scFetch{
	{"conn_cnt", stick.DataConnCnt, opGet},
	{"conn_cur", stick.DataConnCur, opGet},
	{"conn_rate", stick.DataConnRate, opGet},
	{"sess_cnt", stick.DataSessCnt, opGet},
	{"sess_rate", stick.DataSessRate, opGet},
	{"http_req_cnt", stick.DataHTTPReqCnt, opGet},
	{"http_req_rate", stick.DataHTTPReqRate, opGet},
	{"http_err_cnt", stick.DataHTTPErrCnt, opGet},
	{"http_err_rate", stick.DataHTTPErrRate, opGet},
	{"http_fail_cnt", stick.DataHTTPFailCnt, opGet},
	{"http_fail_rate", stick.DataHTTPFailRate, opGet},
	{"bytes_in_rate", stick.DataBytesInRate, opGet},
	{"bytes_out_rate", stick.DataBytesOutRate, opGet},
	{"kbytes_in", stick.DataBytesInCnt, opKBytes},
	{"kbytes_out", stick.DataBytesOutCnt, opKBytes},
	{"gpc0", stick.DataGPC0, opGet},
	{"gpc1", stick.DataGPC1, opGet},
	{"gpc0_rate", stick.DataGPC0Rate, opGet},
	{"gpc1_rate", stick.DataGPC1Rate, opGet},
	{"gpt0", stick.DataGPT0, opGet},
	{"server_id", stick.DataServerID, opGet},
	{"trackers", 0, opTrackers},
}

func registerConverters() {
	prep := func(a []acl.Arg, opt *acl.Options) error {
		if a[0].Str == "" {
			return fmt.Errorf("missing table name")
		}
		if opt != nil && opt.Known != nil && !opt.Known("table", a[0].Str) {
			return fmt.Errorf("unknown stick-table %q", a[0].Str)
		}
		return nil
	}
	lookup := func(t *acl.Txn, a []acl.Arg, in acl.Sample) (*stick.Table, *stick.Entry, bool) {
		tb := tableArg(t, a, 0)
		if tb == nil {
			return nil, nil, false
		}
		k, ok := toKey(tb, tb.Def().Type, in)
		if !ok {
			return nil, nil, false
		}
		return tb, tb.Lookup(k), true
	}
	acl.RegisterConverter(acl.Converter{Name: "in_table", MinArgs: 1, MaxArgs: 1, Out: acl.TypeBool, Prepare: prep,
		Fn: func(t *acl.Txn, a []acl.Arg, in acl.Sample) (acl.Sample, bool) {
			_, e, ok := lookup(t, a, in)
			return acl.BoolSample(e != nil), ok
		}})
	for _, f := range tableConvs {
		f := f
		acl.RegisterConverter(acl.Converter{Name: "table_" + f.suffix, MinArgs: 1, MaxArgs: 1, Out: acl.TypeInt, Prepare: prep,
			Fn: func(t *acl.Txn, a []acl.Arg, in acl.Sample) (acl.Sample, bool) {
				tb, e, ok := lookup(t, a, in)
				if !ok {
					return acl.Sample{}, false
				}
				return entryValue(tb, e, f)
			}})
	}
}
