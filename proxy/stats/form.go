package stats

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// Limits of an admin form: far above what the page's form sends.
const (
	maxFormBytes   = 16 << 10
	maxFormServers = 1024
)

// AdminForm is a decoded admin POST: HAProxy's `s=SRV&s=SRV...&action=ACT&b=BACKEND`
// (b is "#IID" or a name), plus appl's `action=weight&w=N`.
type AdminForm struct {
	Backend string   // as sent: "#3" or a name
	Servers []string // in order, duplicates removed
	Action  string
	State   AdminState // ready/drain/maint actions
	Weight  int        // weight action
}

// Errors of ParseAdminForm; the page answers them with ;st=ERRP.
var (
	errFormTooLarge = errors.New("stats: admin form too large")
	errFormSyntax   = errors.New("stats: malformed admin form")
	errFormAction   = errors.New("stats: unsupported admin action")
	errFormMissing  = errors.New("stats: admin form needs b, s and action")
)

// ParseAdminForm decodes an application/x-www-form-urlencoded admin form. Unknown fields
// are ignored, as HAProxy does; a repeated b or action keeps the last one.
func ParseAdminForm(body string) (AdminForm, error) {
	var f AdminForm
	if len(body) > maxFormBytes {
		return f, errFormTooLarge
	}
	weight := ""
	for body != "" {
		var kv string
		kv, body, _ = strings.Cut(body, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return AdminForm{}, errFormSyntax
		}
		switch k {
		case "b":
			f.Backend = v
		case "s":
			if v == "" {
				continue
			}
			dup := false
			for _, s := range f.Servers {
				if s == v {
					dup = true
					break
				}
			}
			if !dup {
				if len(f.Servers) >= maxFormServers {
					return AdminForm{}, errFormTooLarge
				}
				f.Servers = append(f.Servers, v)
			}
		case "action":
			f.Action = v
		case "w":
			weight = v
		}
	}
	if f.Backend == "" || f.Action == "" || len(f.Servers) == 0 {
		return AdminForm{}, errFormMissing
	}
	switch f.Action {
	case "ready":
		f.State = AdminReady
	case "drain":
		f.State = AdminDrain
	case "maint":
		f.State = AdminMaint
	case "weight":
		n, err := strconv.Atoi(strings.TrimSuffix(weight, "%"))
		if err != nil || n < 0 || n > 256 {
			return AdminForm{}, errFormSyntax
		}
		f.Weight = n
	default:
		// HAProxy's health/agent actions (dhlth, hrunn, ...) and shutdown act on
		// machinery appl drives through its own commands; they are refused, not ignored.
		return AdminForm{}, errFormAction
	}
	return f, nil
}
