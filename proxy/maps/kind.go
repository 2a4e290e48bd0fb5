package maps

// Kind is a match method (HAProxy's `-m` and the suffix of map_* converters).
type Kind uint8

// Match methods.
const (
	Str   Kind = iota + 1 // exact string
	Beg                   // prefix
	Sub                   // substring
	Dom                   // domain: whole dot- or slash-delimited labels
	End                   // suffix
	Dir                   // directory: whole slash-delimited segments
	Reg                   // regular expression (RE2)
	Int                   // integer or range lo:hi
	IP                    // IPv4/IPv6 address or prefix, longest prefix wins
	Len                   // length of the sample against integer ranges
	Found                 // the sample exists; no patterns
	Bool                  // the sample is non-zero; no patterns
)

var kindNames = [...]string{Str: "str", Beg: "beg", Sub: "sub", Dom: "dom", End: "end", Dir: "dir",
	Reg: "reg", Int: "int", IP: "ip", Len: "len", Found: "found", Bool: "bool"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "?"
}

// ParseKind reads a match method name ("str", "ip", ...).
func ParseKind(s string) (Kind, bool) {
	for k, n := range kindNames {
		if n != "" && n == s {
			return Kind(k), true
		}
	}
	return 0, false
}

// KindNames lists the match methods, for error messages.
func KindNames() []string {
	var out []string
	for _, n := range kindNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// NeedsPatterns says whether the kind compares against patterns.
func (k Kind) NeedsPatterns() bool { return k != Found && k != Bool }
