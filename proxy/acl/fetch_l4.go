package acl

import "appl/proxy/maps"

// Layer 4 fetches: they read only the connection.
func init() {
	RegisterFetch(Fetch{Name: "src", Out: TypeIP, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return IPSample(t.Src.Addr()), t.Src.IsValid()
	}})
	RegisterFetch(Fetch{Name: "dst", Out: TypeIP, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return IPSample(t.Dst.Addr()), t.Dst.IsValid()
	}})
	RegisterFetch(Fetch{Name: "src_port", Out: TypeInt, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return IntSample(int64(t.Src.Port())), t.Src.IsValid()
	}})
	RegisterFetch(Fetch{Name: "dst_port", Out: TypeInt, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return IntSample(int64(t.Dst.Port())), t.Dst.IsValid()
	}})
	RegisterFetch(Fetch{Name: "always_true", Out: TypeBool, Fn: func(*Txn, []Arg) (Sample, bool) {
		return BoolSample(true), true
	}})
	RegisterFetch(Fetch{Name: "always_false", Out: TypeBool, Fn: func(*Txn, []Arg) (Sample, bool) {
		return BoolSample(false), true
	}})
	RegisterFetch(Fetch{Name: "fe_name", Out: TypeStr, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return StrSample(t.FrontendName), t.FrontendName != ""
	}})
	RegisterFetch(Fetch{Name: "be_name", Out: TypeStr, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return StrSample(t.BackendName), t.BackendName != ""
	}})
	RegisterFetch(Fetch{Name: "nbsrv", MaxArgs: 1, Out: TypeInt, Prepare: prepareName("backend"),
		Fn: func(t *Txn, a []Arg) (Sample, bool) {
			if t.Env == nil {
				return Sample{}, false
			}
			be := t.BackendName
			if len(a) > 0 {
				be = a[0].Str
			}
			n, ok := t.Env.NbSrv(be)
			return IntSample(int64(n)), ok
		}})
	RegisterFetch(Fetch{Name: "ssl_fc", Out: TypeBool, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		return BoolSample(t.TLS != nil), true
	}})
	RegisterFetch(Fetch{Name: "ssl_fc_sni", Out: TypeStr, Fn: func(t *Txn, _ []Arg) (Sample, bool) {
		if t.TLS == nil || t.TLS.SNI == "" {
			return Sample{}, false
		}
		return StrSample(t.TLS.SNI), true
	}})
	sni := func(t *Txn, _ []Arg) (Sample, bool) {
		return StrSample(t.ClientHelloSNI), t.ClientHelloSNI != ""
	}
	RegisterFetch(Fetch{Name: "req.ssl_sni", Out: TypeStr, Fn: sni})
	RegisterFetch(Fetch{Name: "req_ssl_sni", Out: TypeStr, Fn: sni})
	RegisterKeyword("ssl_fc_sni_end", "ssl_fc_sni", maps.End)
	RegisterKeyword("ssl_fc_sni_reg", "ssl_fc_sni", maps.Reg)
}

func prepareName(kind string) func([]Arg, *Options) error {
	return func(a []Arg, opt *Options) error {
		if len(a) > 0 && opt.Known != nil && !opt.Known(kind, a[0].Str) {
			return errUnknownName(kind, a[0].Str)
		}
		return nil
	}
}

type unknownNameError struct{ kind, name string }

func (e unknownNameError) Error() string { return "unknown " + e.kind + " " + `"` + e.name + `"` }

func errUnknownName(kind, name string) error { return unknownNameError{kind, name} }
