package check

import (
	"strconv"
	"strings"
)

// Status is a check result in HAProxy's terms; the numbers are HAProxy's HCHK_STATUS_*
// values, which the stats CSV (check_status) and the runtime API print.
type Status int

const (
	StatusUnknown Status = iota // UNK
	StatusIni                   // INI: no check finished yet
	statusStart
	statusChecked
	statusHana
	StatusSockErr // SOCKERR
	StatusL4OK    // Layer4 check passed
	StatusL4TOUT  // Layer4 timeout
	StatusL4CON   // Layer4 connection problem
	StatusL6OK    // Layer6 check passed
	StatusL6TOUT  // Layer6 timeout
	StatusL6RSP   // Layer6 invalid response
	StatusL7TOUT  // Layer7 timeout
	StatusL7RSP   // Layer7 invalid response
	statusL57Data // from here on HAProxy prints the response code
	StatusL7OK    // Layer7 check passed
	StatusL7OKC   // Layer7 check conditionally passed (disable-on-404)
	StatusL7STS   // Layer7 wrong status
)

var statusNames = [...]struct{ code, desc string }{
	StatusUnknown: {"UNK", "Unknown"},
	StatusIni:     {"INI", "Initializing"},
	statusStart:   {"START", "Check started"},
	statusChecked: {"CHECKED", "No status change"},
	statusHana:    {"HANA", "Health analyze"},
	StatusSockErr: {"SOCKERR", "Socket error"},
	StatusL4OK:    {"L4OK", "Layer4 check passed"},
	StatusL4TOUT:  {"L4TOUT", "Layer4 timeout"},
	StatusL4CON:   {"L4CON", "Layer4 connection problem"},
	StatusL6OK:    {"L6OK", "Layer6 check passed"},
	StatusL6TOUT:  {"L6TOUT", "Layer6 timeout"},
	StatusL6RSP:   {"L6RSP", "Layer6 invalid response"},
	StatusL7TOUT:  {"L7TOUT", "Layer7 timeout"},
	StatusL7RSP:   {"L7RSP", "Layer7 invalid response"},
	statusL57Data: {"", ""},
	StatusL7OK:    {"L7OK", "Layer7 check passed"},
	StatusL7OKC:   {"L7OKC", "Layer7 check conditionally passed"},
	StatusL7STS:   {"L7STS", "Layer7 wrong status"},
}

// Code is HAProxy's short name ("L7STS"), as on the stats page.
func (s Status) Code() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "UNK"
	}
	return statusNames[s].code
}

// Description is HAProxy's wording ("Layer7 wrong status"), as in the log lines.
func (s Status) Description() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "Unknown"
	}
	return statusNames[s].desc
}

// HasCode reports whether HAProxy prints a response code with this status (layer 5-7
// data was seen): ", code: 404".
func (s Status) HasCode() bool { return s > statusL57Data }

// Passed reports whether the status counts as a successful check (L7OKC included: it
// counts towards health and puts an up server in the stopping state).
func (s Status) Passed() bool {
	return s == StatusL4OK || s == StatusL6OK || s == StatusL7OK || s == StatusL7OKC
}

// Detail is the part of HAProxy's server log lines after "reason: " up to the check
// duration: `Layer7 wrong status, code: 404, info: "Not Found"`.
func (o Outcome) Detail() string {
	var b strings.Builder
	b.WriteString(o.Reason)
	if o.Status.HasCode() {
		b.WriteString(", code: ")
		b.WriteString(strconv.Itoa(o.Code))
	}
	if o.Info != "" {
		b.WriteString(`, info: "`)
		b.WriteString(o.Info)
		b.WriteString(`"`)
	}
	return b.String()
}

// State is the short form for a status display: "L7STS/404 Layer7 wrong status: Not
// Found", "L4CON Layer4 connection problem: Connection refused".
func (o Outcome) State() string {
	var b strings.Builder
	b.WriteString(o.Status.Code())
	if o.Status.HasCode() {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(o.Code))
	}
	b.WriteByte(' ')
	b.WriteString(o.Reason)
	if o.Info != "" {
		b.WriteString(": ")
		b.WriteString(o.Info)
	}
	return b.String()
}

func outcome(s Status, code int, info string) Outcome {
	return Outcome{OK: s.Passed(), Status: s, Reason: s.Description(), Code: code, Info: info}
}
