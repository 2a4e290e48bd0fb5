package acl

import (
	"net/netip"
	"strconv"
)

// Type is the type of a sample.
type Type uint8

// Sample types.
const (
	TypeStr  Type = iota + 1
	TypeInt       // also booleans (0/1)
	TypeIP        // IPv4 or IPv6 address
	TypeBool      // an int that reads as true/false
)

func (t Type) String() string {
	switch t {
	case TypeStr:
		return "str"
	case TypeInt:
		return "int"
	case TypeIP:
		return "ip"
	case TypeBool:
		return "bool"
	}
	return "any"
}

// Sample is a fetched or converted value. It is passed by value and never allocates
// for ints and addresses.
type Sample struct {
	Type Type
	Str  string
	Int  int64
	IP   netip.Addr
}

// StrSample, IntSample, IPSample and BoolSample build samples.
func StrSample(s string) Sample    { return Sample{Type: TypeStr, Str: s} }
func IntSample(v int64) Sample     { return Sample{Type: TypeInt, Int: v} }
func IPSample(a netip.Addr) Sample { return Sample{Type: TypeIP, IP: a} }
func BoolSample(b bool) Sample {
	if b {
		return Sample{Type: TypeBool, Int: 1}
	}
	return Sample{Type: TypeBool}
}

// String renders the sample as text (allocates for ints and addresses).
func (s Sample) String() string {
	switch s.Type {
	case TypeStr:
		return s.Str
	case TypeInt, TypeBool:
		return strconv.FormatInt(s.Int, 10)
	case TypeIP:
		return s.IP.String()
	}
	return ""
}

// AsIP converts to an address (a string is parsed).
func (s Sample) AsIP() (netip.Addr, bool) {
	switch s.Type {
	case TypeIP:
		return s.IP, s.IP.IsValid()
	case TypeStr:
		a, err := netip.ParseAddr(s.Str)
		return a, err == nil
	}
	return netip.Addr{}, false
}

// AsInt converts to an integer (a string is parsed).
func (s Sample) AsInt() (int64, bool) {
	switch s.Type {
	case TypeInt, TypeBool:
		return s.Int, true
	case TypeStr:
		v, err := strconv.ParseInt(s.Str, 10, 64)
		return v, err == nil
	}
	return 0, false
}

// convert casts s to t, as HAProxy casts between fetches and converters.
func (s Sample) convert(t Type) (Sample, bool) {
	if t == 0 || s.Type == t {
		return s, true
	}
	switch t {
	case TypeStr:
		return StrSample(s.String()), true
	case TypeInt:
		v, ok := s.AsInt()
		return IntSample(v), ok
	case TypeBool:
		v, ok := s.AsInt()
		return BoolSample(v != 0), ok
	case TypeIP:
		a, ok := s.AsIP()
		return IPSample(a), ok
	}
	return Sample{}, false
}
