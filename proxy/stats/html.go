package stats

import (
	"bytes"
	"html"
	"html/template"
	"os"
	"strconv"
	"strings"
	"time"
)

// htmlPage is what the template reads.
type htmlPage struct {
	Title       string
	Node        string
	Version     string // "" with hide-version
	ReleaseDate string
	Desc        string
	PID         int
	Uptime      string
	MaxConn     string
	CurConn     int64
	Refresh     int // seconds; 0: no refresh
	Base        string
	Norefresh   bool
	Legends     bool
	Admin       bool
	Status      string // st= banner text
	StatusClass string
	Proxies     []htmlProxy
	Generated   string
}

type htmlProxy struct {
	Name    string
	ID      int
	Desc    string
	Rows    []htmlRow
	Body    template.HTML // Rows rendered (escaped by rowsHTML)
	Backend bool          // admin form possible
}

type htmlRow struct {
	Class  string // colour class
	Label  string // Frontend, server name, Backend
	Server bool   // a server row (checkbox)
	Title  string // tooltip: address, check details
	Cells  []string
}

// HAProxy's messages for st= codes.
var statusText = map[string]string{
	"DONE": "Action processed successfully.",
	"PART": "Action partially processed: some servers were not found or refused the change.",
	"NONE": "Nothing has changed (no server selected or no action chosen).",
	"ERRP": "Action not processed because of invalid parameters.",
	"UNKN": "Unexpected result: no such backend.",
	"DENY": "Action denied.",
}

// renderHTML renders the page.
func (p *Page) renderHTML(s *Snapshot, o pageOpts, admin bool) string {
	v := htmlPage{
		Title: "Statistics Report for pid " + strconv.Itoa(s.PID), PID: s.PID,
		CurConn: s.CurConn, Base: o.base, Norefresh: o.norefresh, Legends: p.cfg.ShowLegends,
		Admin: admin, Generated: s.Now.UTC().Format(time.RFC1123),
		Uptime: uptime(s.Now.Sub(s.Started)),
	}
	if p.cfg.ShowNode {
		v.Node = s.Node
		if v.Node == "" {
			v.Node, _ = os.Hostname()
		}
		v.Title += " on " + v.Node
	}
	if !p.cfg.HideVersion {
		v.Version, v.ReleaseDate = s.Version, s.ReleaseDate
	}
	if p.cfg.ShowDesc {
		v.Desc = s.Description
	}
	if s.MaxConn > 0 {
		v.MaxConn = strconv.Itoa(s.MaxConn)
	} else {
		v.MaxConn = "unlimited"
	}
	if !o.norefresh && p.cfg.Refresh > 0 {
		v.Refresh = max(int(p.cfg.Refresh/time.Second), 1)
	}
	if t, ok := statusText[o.status]; ok {
		v.Status = t
		v.StatusClass = "active_up"
		if o.status != "DONE" {
			v.StatusClass = "active_down"
		}
	}
	for i := range s.Proxies {
		px := &s.Proxies[i]
		hp := htmlProxy{Name: px.Name, ID: px.ID}
		if hp.ID == 0 {
			hp.ID = i + 1
		}
		if fe := px.Frontend; fe != nil {
			st := "OPEN"
			if fe.Disabled {
				st = "STOP"
			}
			hp.Rows = append(hp.Rows, htmlRow{Class: "frontend", Label: "Frontend", Cells: []string{
				"", "", "",
				n(fe.Rate), n(fe.RateMax), lim(fe.RateLim),
				n(fe.Cur), n(fe.Max), lim(fe.Limit), n(fe.Total), "", "",
				bytesH(fe.BytesIn), bytesH(fe.BytesOut),
				n(fe.DeniedReq), n(fe.DeniedResp),
				n(fe.ErrReq), "", "",
				"", "",
				st, "", "", "", "", "", "", "", "",
			}})
		}
		if be := px.Backend; be != nil {
			hp.Backend = true
			for j := range be.Servers {
				sv := &be.Servers[j]
				if !o.keepServer(sv) {
					continue
				}
				hp.Rows = append(hp.Rows, serverRow(s.Now, sv))
			}
			act, bck := be.Up()
			w, _ := be.weight()
			since := ""
			if !be.LastChange.IsZero() {
				since = duration(s.Now.Sub(be.LastChange)) + " "
			}
			class := "active_up"
			if be.StatusText() != "UP" {
				class = "active_down"
			}
			hp.Rows = append(hp.Rows, htmlRow{Class: class, Label: "Backend", Cells: []string{
				n(be.Queue), n(be.QueueMax), "",
				n(be.Rate), n(be.RateMax), "",
				n(be.Cur), n(be.Max), lim(be.Limit), n(be.Total), n(be.Total), last(s.Now, be.LastSession),
				bytesH(be.BytesIn), bytesH(be.BytesOut),
				n(be.DeniedReq), n(be.DeniedResp),
				"", n(be.ErrConn), n(be.ErrRsp),
				n(be.Retries), n(be.Redispatches),
				since + be.StatusText(), "", strconv.FormatInt(w, 10), strconv.Itoa(act), strconv.Itoa(bck), "", n(be.Downs), dur0(be.Downtime), "",
			}})
		}
		hp.Body = rowsHTML(hp.Rows, admin)
		v.Proxies = append(v.Proxies, hp)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, &v); err != nil {
		return "<html><body>stats page error</body></html>\n"
	}
	return buf.String()
}

// rowsHTML renders the rows of one proxy table by hand: a template range over a thousand
// servers' cells costs more than the rest of the page. Every text is escaped.
func rowsHTML(rows []htmlRow, admin bool) template.HTML {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(`<tr class="`)
		b.WriteString(html.EscapeString(r.Class))
		b.WriteString(`"><td>`)
		if admin && r.Server {
			b.WriteString(`<input type="checkbox" name="s" value="`)
			b.WriteString(html.EscapeString(r.Label))
			b.WriteString(`">`)
		}
		b.WriteString(`</td><td class="ac" title="`)
		b.WriteString(html.EscapeString(r.Title))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(r.Label))
		b.WriteString(`</td>`)
		for _, c := range r.Cells {
			b.WriteString(`<td>`)
			b.WriteString(html.EscapeString(c))
			b.WriteString(`</td>`)
		}
		b.WriteString("</tr>\n")
	}
	return template.HTML(b.String())
}

func (o *pageOpts) keepServer(s *Server) bool {
	if o.up && s.State != StateUp {
		return false
	}
	return !(o.noMaint && s.State == StateMaint)
}

func serverRow(now time.Time, sv *Server) htmlRow {
	r := htmlRow{Label: sv.Name, Server: true, Class: serverClass(sv), Title: sv.Addr}
	status := sv.StatusText()
	if !sv.LastChange.IsZero() {
		status = duration(now.Sub(sv.LastChange)) + " " + status
	}
	lastChk, chk, dwn, dwntime := "", "", "", ""
	if c := sv.Check; c != nil {
		if c.Status != "" {
			lastChk = c.Status + " in " + strconv.FormatInt(c.Duration.Milliseconds(), 10) + "ms"
			if c.Code != 0 {
				lastChk = c.Status + "/" + strconv.Itoa(c.Code) + " in " + strconv.FormatInt(c.Duration.Milliseconds(), 10) + "ms"
			}
			r.Title += ", " + c.Desc
			if c.Info != "" {
				r.Title += ": " + c.Info
			}
		}
		chk, dwn, dwntime = n(c.Failures), n(c.Downs), dur0(sv.Downtime)
	}
	act, bck := "Y", "-"
	if sv.Backup {
		act, bck = "-", "Y"
	}
	r.Cells = []string{
		n(sv.Queue), n(sv.QueueMax), lim(sv.QueueLimit),
		n(sv.Rate), n(sv.RateMax), "",
		n(sv.Cur), n(sv.Max), lim(sv.Limit), n(sv.Total), n(sv.Total), last(now, sv.LastSession),
		bytesH(sv.BytesIn), bytesH(sv.BytesOut),
		"", n(sv.DeniedResp),
		"", n(sv.ErrConn), n(sv.ErrRsp),
		n(sv.Retries), n(sv.Redispatches),
		status, lastChk, strconv.Itoa(sv.Weight) + "/" + strconv.Itoa(sv.ConfWeight), act, bck, chk, dwn, dwntime, "",
	}
	return r
}

// serverClass picks HAProxy's row colour for a server.
func serverClass(sv *Server) string {
	kind := "active"
	if sv.Backup {
		kind = "backup"
	}
	switch sv.State {
	case StateMaint:
		return "maintain"
	case StateDrain:
		return kind + "_draining"
	case StateNoLB:
		return kind + "_nolb"
	}
	c := sv.Check
	if c == nil {
		if sv.State == StateUp {
			return kind + "_no_check"
		}
		return kind + "_down"
	}
	switch {
	case sv.State == StateUp && c.HealthOf > 0 && c.Health < c.HealthOf:
		return kind + "_going_down"
	case sv.State == StateUp:
		return kind + "_up"
	case c.Health > 0:
		return kind + "_going_up"
	}
	return kind + "_down"
}

func n(v int64) string { return strconv.FormatInt(v, 10) }

func lim(v int64) string {
	if v <= 0 {
		return ""
	}
	return n(v)
}

func last(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return duration(now.Sub(t))
}

func dur0(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return duration(d)
}

// duration prints like HAProxy: 5s, 3m12s, 2h04m, 1d3h.
func duration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return strconv.FormatInt(max(s, 0), 10) + "s"
	case s < 3600:
		return strconv.FormatInt(s/60, 10) + "m" + strconv.FormatInt(s%60, 10) + "s"
	case s < 86400:
		return strconv.FormatInt(s/3600, 10) + "h" + pad2(s%3600/60) + "m"
	}
	return strconv.FormatInt(s/86400, 10) + "d" + strconv.FormatInt(s%86400/3600, 10) + "h"
}

func pad2(v int64) string {
	if v < 10 {
		return "0" + strconv.FormatInt(v, 10)
	}
	return strconv.FormatInt(v, 10)
}

// uptime prints like HAProxy's `show info`: 0d 0h01m05s.
func uptime(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	return strconv.FormatInt(s/86400, 10) + "d " + strconv.FormatInt(s%86400/3600, 10) + "h" + pad2(s%3600/60) + "m" + pad2(s%60) + "s"
}

// bytesH prints a byte count as HAProxy's page does (exact, the title keeps it).
func bytesH(v int64) string { return n(v) }

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
{{if .Refresh}}<meta http-equiv="refresh" content="{{.Refresh}}">{{end}}
<style>
body{font-family:arial,helvetica,sans-serif;font-size:12px;color:#000;background:#fff}
h1{font-size:18px;background:#20377a;color:#fff;padding:4px}
h3{font-size:14px;margin:0}
table.tbl{border-collapse:collapse;border:1px solid #999;margin-bottom:8px}
table.tbl td,table.tbl th{border:1px solid #999;padding:1px 3px;text-align:right;white-space:nowrap}
table.tbl td.ac,table.tbl th.pxname{text-align:left}
th.pxname{background:#b00040;color:#ffff40;font-weight:bold}
tr.titre th{background:#20377a;color:#fff}
.frontend{background:#e8e8d0}
.active_down{background:#ff9090}.active_going_up{background:#ffd020}.active_going_down{background:#ffffa0}
.active_up{background:#c0ffc0}.active_nolb{background:#20a0ff}.active_draining{background:#20a0ff}
.active_no_check{background:#e0e0e0}.backup_down{background:#ff9090}.backup_going_up{background:#ff80ff}
.backup_going_down{background:#c060ff}.backup_up{background:#b0d0ff}.backup_nolb{background:#90b0e0}
.backup_draining{background:#cc9900}.backup_no_check{background:#e0e0e0}.maintain{background:#c07820}
.legend td{padding:1px 6px}
</style></head><body>
<h1>appl{{if .Version}} version {{.Version}}{{if .ReleaseDate}}, released {{.ReleaseDate}}{{end}}{{end}}</h1>
<h3>&gt; {{.Title}}</h3>
{{if .Desc}}<p class="desc">{{.Desc}}</p>{{end}}
{{if .Status}}<p class="{{.StatusClass}}" id="status">{{.Status}} <a href="{{.Base}}">[X]</a></p>{{end}}
<table><tr><td>
<b>General process information</b><br>
pid = {{.PID}}<br>
uptime = {{.Uptime}}<br>
system limits: maxconn = {{.MaxConn}}<br>
current conns = {{.CurConn}}<br>
</td><td>
{{if .Legends}}<table class="legend">
<tr><td class="active_up">active UP</td><td class="backup_up">backup UP</td></tr>
<tr><td class="active_going_down">active UP, going down</td><td class="backup_going_down">backup UP, going down</td></tr>
<tr><td class="active_going_up">active DOWN, going up</td><td class="backup_going_up">backup DOWN, going up</td></tr>
<tr><td class="active_down">active or backup DOWN</td><td>not checked</td></tr>
<tr><td class="maintain">active or backup DOWN for maintenance (MAINT)</td><td class="active_draining">active or backup SOFT STOPPED for maintenance</td></tr>
</table>{{end}}
</td><td>
<b>Display option:</b><ul>
{{if .Norefresh}}<li><a href="{{.Base}}">Enable refresh</a></li>{{else}}<li><a href="{{.Base}};norefresh">Disable refresh</a></li>{{end}}
<li><a href="{{.Base}}">Refresh now</a></li>
<li><a href="{{.Base}};csv">CSV export</a></li>
</ul></td></tr></table>
{{range .Proxies}}{{$px := .}}
{{if and $.Admin .Backend}}<form method="post" action="{{$.Base}}">{{end}}
<table class="tbl" id="{{.Name}}">
<tr class="titre"><th class="pxname" colspan="32">{{.Name}}</th></tr>
<tr class="titre"><th rowspan="2"></th><th rowspan="2"></th><th colspan="3">Queue</th><th colspan="3">Session rate</th><th colspan="6">Sessions</th><th colspan="2">Bytes</th><th colspan="2">Denied</th><th colspan="3">Errors</th><th colspan="2">Warnings</th><th colspan="9">Server</th></tr>
<tr class="titre"><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th><th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th><th>Retr</th><th>Redis</th><th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th><th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>
{{.Body}}</table>
{{if and $.Admin .Backend}}Choose the action to perform on the checked servers: <select name="action">
<option value=""></option><option value="ready">Set state to READY</option><option value="drain">Set state to DRAIN</option><option value="maint">Set state to MAINT</option><option value="weight">Set weight to</option>
</select> <input type="number" name="w" min="0" max="256" size="4" placeholder="weight">
<input type="hidden" name="b" value="#{{.ID}}"><input type="submit" value="Apply"></form>{{end}}
{{end}}
<p>Generated {{.Generated}}</p>
</body></html>
`))
