package stats

import "strconv"

// Type is the `type` column of a stats row (and, as a bit, of `show stat`'s filter).
type Type uint8

// Row types, numbered as HAProxy's `type` column.
const (
	TypeFrontend Type = 0
	TypeBackend  Type = 1
	TypeServer   Type = 2
	TypeListener Type = 3
)

// Col indexes a stats column (see the Col constants, HAProxy 2.6's order).
type Col int

// Row is one CSV line of `show stat` and of the page's `;csv`. Columns not set print
// empty, as HAProxy prints what does not apply. Build it with NewRow so that the
// identifying columns agree with the filters.
type Row struct {
	Type     Type
	ProxyID  int // iid
	ServerID int // sid, 0 for frontends and backends
	v        [NumCols]string
}

// NewRow starts a row: pxname, svname (FRONTEND/BACKEND for those rows), type, iid,
// sid and pid are filled.
func NewRow(proxy, server string, typ Type, iid, sid int) Row {
	r := Row{Type: typ, ProxyID: iid, ServerID: sid}
	switch typ {
	case TypeFrontend:
		server = "FRONTEND"
	case TypeBackend:
		server = "BACKEND"
	}
	r.v[ColPxname] = csvSafe(proxy)
	r.v[ColSvname] = csvSafe(server)
	r.v[ColType] = strconv.Itoa(int(typ))
	r.v[ColIid] = strconv.Itoa(iid)
	r.v[ColSid] = strconv.Itoa(sid)
	r.v[ColPid] = "1"
	r.v[ColModules] = "-"
	return r
}

// SetInt sets a numeric column.
func (r *Row) SetInt(c Col, v int64) {
	if c >= 0 && c < NumCols {
		r.v[c] = strconv.FormatInt(v, 10)
	}
}

// SetStr sets a text column (status "UP", check_status "L4OK", addr, mode, algo, ...).
// Commas and line breaks are replaced, so the CSV stays parseable.
func (r *Row) SetStr(c Col, s string) {
	if c >= 0 && c < NumCols {
		r.v[c] = csvSafe(s)
	}
}

// Get returns a column's text.
func (r *Row) Get(c Col) string {
	if c >= 0 && c < NumCols {
		return r.v[c]
	}
	return ""
}

func csvSafe(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ',' || c == '\n' || c == '\r' {
			if b == nil {
				b = []byte(s)
			}
			b[i] = ' '
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

// AppendCSVHeader appends HAProxy's CSV header line: "# pxname,svname,...,\n".
func AppendCSVHeader(dst []byte) []byte {
	dst = append(dst, "# "...)
	for _, n := range ColumnNames {
		dst = append(dst, n...)
		dst = append(dst, ',')
	}
	return append(dst, '\n')
}

// AppendCSV appends one row as HAProxy prints it (every column followed by a comma).
func (r *Row) AppendCSV(dst []byte) []byte {
	for i := range r.v {
		dst = append(dst, r.v[i]...)
		dst = append(dst, ',')
	}
	return append(dst, '\n')
}
