package stick

import (
	"appl/internal/cfgfile"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// KeyType is the kind of key a table stores, as in `stick-table type ...`.
type KeyType uint8

// Key types, named like HAProxy's.
const (
	TypeIP      KeyType = iota + 1 // IPv4, 4 bytes
	TypeIPv6                       // IPv6, 16 bytes (IPv4 stored as ::ffff:a.b.c.d)
	TypeInteger                    // unsigned 32-bit integer
	TypeString                     // string truncated to Len bytes
	TypeBinary                     // binary block truncated or zero-padded to Len bytes
)

var keyTypeNames = [...]string{TypeIP: "ip", TypeIPv6: "ipv6", TypeInteger: "integer", TypeString: "string", TypeBinary: "binary"}

func (k KeyType) String() string {
	if int(k) < len(keyTypeNames) && keyTypeNames[k] != "" {
		return keyTypeNames[k]
	}
	return "KeyType(" + strconv.Itoa(int(k)) + ")"
}

// fixed reports whether keys of this type live in the fixed 16-byte array
// rather than in a string.
func (k KeyType) fixed() bool { return k == TypeIP || k == TypeIPv6 || k == TypeInteger }

// DataType is one kind of data stored with an entry (`store ...`). The order
// of the constants is HAProxy's, which is also the order of `show table`.
type DataType uint8

// Data types. Rates (the *Rate ones) take a period.
const (
	DataServerID DataType = iota
	DataGPT0
	DataGPC0
	DataGPC0Rate
	DataConnCnt
	DataConnRate
	DataConnCur
	DataSessCnt
	DataSessRate
	DataHTTPReqCnt
	DataHTTPReqRate
	DataHTTPErrCnt
	DataHTTPErrRate
	DataBytesInCnt
	DataBytesInRate
	DataBytesOutCnt
	DataBytesOutRate
	DataGPC1
	DataGPC1Rate
	DataServerKey
	DataHTTPFailCnt
	DataHTTPFailRate
	numDataTypes
)

type dataKind uint8

const (
	kindCounter dataKind = iota // unsigned integer
	kindRate                    // frequency counter over a period
	kindString                  // server_key
)

type dataInfo struct {
	name string
	kind dataKind
	bits uint8 // width HAProxy gives the value: 32 or 64 (set truncates to it)
}

var dataInfos = [numDataTypes]dataInfo{
	DataServerID:     {"server_id", kindCounter, 32},
	DataGPT0:         {"gpt0", kindCounter, 32},
	DataGPC0:         {"gpc0", kindCounter, 32},
	DataGPC0Rate:     {"gpc0_rate", kindRate, 32},
	DataConnCnt:      {"conn_cnt", kindCounter, 32},
	DataConnRate:     {"conn_rate", kindRate, 32},
	DataConnCur:      {"conn_cur", kindCounter, 32},
	DataSessCnt:      {"sess_cnt", kindCounter, 32},
	DataSessRate:     {"sess_rate", kindRate, 32},
	DataHTTPReqCnt:   {"http_req_cnt", kindCounter, 32},
	DataHTTPReqRate:  {"http_req_rate", kindRate, 32},
	DataHTTPErrCnt:   {"http_err_cnt", kindCounter, 32},
	DataHTTPErrRate:  {"http_err_rate", kindRate, 32},
	DataBytesInCnt:   {"bytes_in_cnt", kindCounter, 64},
	DataBytesInRate:  {"bytes_in_rate", kindRate, 32},
	DataBytesOutCnt:  {"bytes_out_cnt", kindCounter, 64},
	DataBytesOutRate: {"bytes_out_rate", kindRate, 32},
	DataGPC1:         {"gpc1", kindCounter, 32},
	DataGPC1Rate:     {"gpc1_rate", kindRate, 32},
	DataServerKey:    {"server_key", kindString, 0},
	DataHTTPFailCnt:  {"http_fail_cnt", kindCounter, 32},
	DataHTTPFailRate: {"http_fail_rate", kindRate, 32},
}

func (d DataType) String() string {
	if d < numDataTypes {
		return dataInfos[d].name
	}
	return "DataType(" + strconv.Itoa(int(d)) + ")"
}

// IsRate reports whether d is a frequency counter that needs a period.
func (d DataType) IsRate() bool { return d < numDataTypes && dataInfos[d].kind == kindRate }

// ParseDataType maps a HAProxy data type name ("conn_cnt", "http_req_rate")
// to its DataType.
func ParseDataType(name string) (DataType, bool) {
	for i := range dataInfos {
		if dataInfos[i].name == name {
			return DataType(i), true
		}
	}
	return 0, false
}

// Store is one stored data type; Period is set for rates only.
type Store struct {
	Type   DataType
	Period time.Duration
}

// Def is a parsed `stick-table` line.
type Def struct {
	Type    KeyType
	KeyLen  int // bytes kept for string and binary keys (default 32)
	Size    int // maximum number of entries
	Expire  time.Duration
	NoPurge bool
	Peers   string
	SrvKey  string // "name" (default) or "addr", HAProxy's srvkey
	Store   []Store
}

// DefaultKeyLen is HAProxy's length for string and binary keys without `len`.
const DefaultKeyLen = 32

// maxExpire is HAProxy's limit (a tick is a signed 32-bit number of ms).
const maxExpire = time.Duration(1<<31-1) * time.Millisecond

// Stores reports whether the table stores data type dt.
func (d *Def) Stores(dt DataType) bool {
	for _, s := range d.Store {
		if s.Type == dt {
			return true
		}
	}
	return false
}

// Period returns the period of rate dt (0 if not stored or not a rate).
func (d *Def) Period(dt DataType) time.Duration {
	for _, s := range d.Store {
		if s.Type == dt {
			return s.Period
		}
	}
	return 0
}

// EnableServer adds server_id and server_key to the stored data, as HAProxy
// does implicitly for a table referenced by stick on/match/store rules.
func (d *Def) EnableServer() {
	if !d.Stores(DataServerID) {
		d.Store = append(d.Store, Store{Type: DataServerID})
	}
	if !d.Stores(DataServerKey) {
		d.Store = append(d.Store, Store{Type: DataServerKey})
	}
}

// String renders the definition back as a config line.
func (d Def) String() string {
	var b strings.Builder
	b.WriteString("stick-table type ")
	b.WriteString(d.Type.String())
	if d.Type == TypeString || d.Type == TypeBinary {
		fmt.Fprintf(&b, " len %d", d.KeyLen)
	}
	fmt.Fprintf(&b, " size %d", d.Size)
	if d.Expire > 0 {
		fmt.Fprintf(&b, " expire %dms", d.Expire.Milliseconds())
	}
	if d.NoPurge {
		b.WriteString(" nopurge")
	}
	if d.Peers != "" {
		b.WriteString(" peers " + d.Peers)
	}
	if d.SrvKey != "" && d.SrvKey != "name" {
		b.WriteString(" srvkey " + d.SrvKey)
	}
	for i, s := range d.Store {
		if i == 0 {
			b.WriteString(" store ")
		} else {
			b.WriteByte(',')
		}
		b.WriteString(s.Type.String())
		if s.Type.IsRate() {
			fmt.Fprintf(&b, "(%d)", s.Period.Milliseconds())
		}
	}
	return b.String()
}

// ParseDef parses the words of a stick-table line. The leading
// "stick-table" word is optional.
func ParseDef(words []string) (Def, error) {
	var d Def
	if len(words) > 0 && words[0] == "stick-table" {
		words = words[1:]
	}
	haveSize := false
	need := func(i int, what string) (string, error) {
		if i+1 >= len(words) {
			return "", fmt.Errorf("stick-table: '%s' expects %s", words[i], what)
		}
		return words[i+1], nil
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "type":
			v, err := need(i, "ip, ipv6, integer, string or binary")
			if err != nil {
				return d, err
			}
			i++
			switch v {
			case "ip":
				d.Type = TypeIP
			case "ipv6":
				d.Type = TypeIPv6
			case "integer":
				d.Type = TypeInteger
			case "string":
				d.Type = TypeString
			case "binary":
				d.Type = TypeBinary
			default:
				return d, fmt.Errorf("stick-table: unknown type '%s', expected ip, ipv6, integer, string or binary", v)
			}
			if (d.Type == TypeString || d.Type == TypeBinary) && i+1 < len(words) && words[i+1] == "len" {
				v, err := need(i+1, "a length in bytes")
				if err != nil {
					return d, err
				}
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 || n > 65535 {
					return d, fmt.Errorf("stick-table: invalid len '%s', expected a number of bytes from 1 to 65535", v)
				}
				d.KeyLen = n
				i += 2
			}
		case "len":
			return d, fmt.Errorf("stick-table: 'len' must follow 'type string' or 'type binary'")
		case "size":
			v, err := need(i, "a number of entries, e.g. 100k")
			if err != nil {
				return d, err
			}
			i++
			n, err := parseSize(v)
			if err != nil {
				return d, fmt.Errorf("stick-table: invalid size '%s': %v", v, err)
			}
			d.Size = n
			haveSize = true
		case "expire":
			v, err := need(i, "a time, e.g. 30s (unit us, ms, s, m, h or d; ms by default)")
			if err != nil {
				return d, err
			}
			i++
			t, err := ParseTime(v)
			if err != nil {
				return d, fmt.Errorf("stick-table: invalid expire '%s': %v (expected a time such as 30s, 10m or 1h)", v, err)
			}
			if t > maxExpire {
				return d, fmt.Errorf("stick-table: expire '%s' is too large (at most 24d20h31m23s)", v)
			}
			d.Expire = t
		case "nopurge":
			d.NoPurge = true
		case "peers":
			v, err := need(i, "the name of a peers section")
			if err != nil {
				return d, err
			}
			i++
			d.Peers = v
		case "srvkey":
			v, err := need(i, "'name' or 'addr'")
			if err != nil {
				return d, err
			}
			i++
			if v != "name" && v != "addr" {
				return d, fmt.Errorf("stick-table: invalid srvkey '%s', expected 'name' or 'addr'", v)
			}
			d.SrvKey = v
		case "store":
			v, err := need(i, "a comma-separated list of data types, e.g. conn_cnt,http_req_rate(10s)")
			if err != nil {
				return d, err
			}
			i++
			if err := d.addStores(v); err != nil {
				return d, err
			}
		default:
			return d, fmt.Errorf("stick-table: unknown keyword '%s', expected type, size, expire, nopurge, peers, srvkey or store", w)
		}
	}
	if d.Type == 0 {
		return d, fmt.Errorf("stick-table: missing 'type' (ip, ipv6, integer, string or binary)")
	}
	if !haveSize {
		return d, fmt.Errorf("stick-table: missing 'size' (maximum number of entries, e.g. size 100k)")
	}
	if (d.Type == TypeString || d.Type == TypeBinary) && d.KeyLen == 0 {
		d.KeyLen = DefaultKeyLen
	}
	if d.SrvKey == "" {
		d.SrvKey = "name"
	}
	return d, nil
}

func (d *Def) addStores(list string) error {
	for _, item := range splitStoreList(list) {
		if item == "" {
			return fmt.Errorf("stick-table: empty data type in store list '%s'", list)
		}
		name, arg, hasArg := item, "", false
		if p := strings.IndexByte(item, '('); p >= 0 {
			if !strings.HasSuffix(item, ")") {
				return fmt.Errorf("stick-table: missing ')' in data type '%s'", item)
			}
			name, arg, hasArg = item[:p], item[p+1:len(item)-1], true
		}
		dt, ok := ParseDataType(name)
		if !ok {
			switch name {
			case "gpc", "gpt", "gpc_rate":
				return fmt.Errorf("stick-table: data type '%s' (array) is not supported yet, use gpc0, gpc1, gpc0_rate, gpc1_rate or gpt0", name)
			}
			return fmt.Errorf("stick-table: unknown data type '%s' in store list, expected one of %s", name, dataTypeList())
		}
		s := Store{Type: dt}
		if dt.IsRate() {
			if !hasArg || arg == "" {
				return fmt.Errorf("stick-table: data type '%s' requires a period, e.g. %s(10s)", name, name)
			}
			p, err := ParseTime(arg)
			if err != nil {
				return fmt.Errorf("stick-table: invalid period '%s' for '%s': %v (expected a time such as 10s)", arg, name, err)
			}
			if p < time.Millisecond || p > maxExpire {
				return fmt.Errorf("stick-table: period '%s' for '%s' must be between 1ms and 24d", arg, name)
			}
			s.Period = p
		} else if hasArg {
			return fmt.Errorf("stick-table: data type '%s' takes no argument", name)
		}
		dup := false
		for _, o := range d.Store {
			if o.Type == dt {
				if o.Period != s.Period {
					return fmt.Errorf("stick-table: data type '%s' stored twice with different periods", name)
				}
				dup = true
			}
		}
		if !dup {
			d.Store = append(d.Store, s)
		}
	}
	return nil
}

// splitStoreList splits on commas that are not inside parentheses.
func splitStoreList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func dataTypeList() string {
	names := make([]string, 0, numDataTypes)
	for _, di := range dataInfos {
		names = append(names, di.name)
	}
	return strings.Join(names, ", ")
}

// ParseTime parses an HAProxy time (cfgfile.ParseTime): a decimal number with an
// optional unit us, ms, s, m, h or d; without a unit the value is in milliseconds.
func ParseTime(s string) (time.Duration, error) { return cfgfile.ParseTime(s) }

// parseSize parses a number with an optional k, m or g suffix (powers of 1024).
func parseSize(s string) (int, error) {
	mul := uint64(1)
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mul, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mul, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mul, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("expected a number with an optional k, m or g suffix")
	}
	if n == 0 {
		return 0, fmt.Errorf("size must be at least 1")
	}
	v := n * mul
	if v > 1<<31 {
		return 0, fmt.Errorf("size too large (at most 2g)")
	}
	return int(v), nil
}
