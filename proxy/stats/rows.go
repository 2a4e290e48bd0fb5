package stats

import (
	"strconv"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// Rows renders a snapshot as `show stat` rows in HAProxy's order: per proxy, its
// FRONTEND row, its servers, then its BACKEND row. The runtime API's `show stat` and the
// page's `;csv` print these rows; the HTML page and the Prometheus endpoint read the
// same snapshot.
func Rows(s *Snapshot) []Row {
	n := 0
	for i := range s.Proxies {
		n += 2
		if be := s.Proxies[i].Backend; be != nil {
			n += len(be.Servers)
		}
	}
	rows := make([]Row, 0, n)
	for pi := range s.Proxies {
		p := &s.Proxies[pi]
		iid := p.ID
		if iid == 0 {
			iid = pi + 1
		}
		mode := p.Mode
		if mode == "" {
			mode = "tcp"
		}
		if fe := p.Frontend; fe != nil {
			r := NewRow(p.Name, "", TypeFrontend, iid, 0)
			setCounters(&r, &fe.Counters, s.Now, true)
			if fe.Limit > 0 {
				r.SetInt(ColSlim, fe.Limit)
			}
			r.SetInt(ColRateLim, fe.RateLim)
			if fe.Disabled {
				r.SetStr(ColStatus, "STOP")
			} else {
				r.SetStr(ColStatus, "OPEN")
			}
			r.SetStr(ColMode, mode)
			r.SetInt(ColConnRate, fe.Rate)
			r.SetInt(ColConnRateMax, fe.RateMax)
			r.SetInt(ColConnTot, fe.Total)
			if mode == "http" {
				setHTTP(&r, &fe.Counters)
				r.SetInt(ColReqRate, fe.ReqRate)
				r.SetInt(ColReqRateMax, fe.ReqRateMax)
			}
			rows = append(rows, r)
		}
		be := p.Backend
		if be == nil {
			continue
		}
		for si := range be.Servers {
			sv := &be.Servers[si]
			sid := sv.ID
			if sid == 0 {
				sid = si + 1
			}
			r := NewRow(p.Name, sv.Name, TypeServer, iid, sid)
			setCounters(&r, &sv.Counters, s.Now, false)
			r.SetInt(ColQcur, sv.Queue)
			r.SetInt(ColQmax, sv.QueueMax)
			if sv.Limit > 0 {
				r.SetInt(ColSlim, sv.Limit)
			}
			if sv.QueueLimit > 0 {
				r.SetInt(ColQlimit, sv.QueueLimit)
			}
			r.SetInt(ColEcon, sv.ErrConn)
			r.SetInt(ColEresp, sv.ErrRsp)
			r.SetInt(ColWretr, sv.Retries)
			r.SetInt(ColWredis, sv.Redispatches)
			r.SetStr(ColStatus, sv.StatusText())
			r.SetInt(ColWeight, int64(sv.Weight))
			r.SetInt(ColUweight, int64(sv.ConfWeight))
			if sv.Backup {
				r.SetInt(ColAct, 0)
				r.SetInt(ColBck, 1)
			} else {
				r.SetInt(ColAct, 1)
				r.SetInt(ColBck, 0)
			}
			if !sv.LastChange.IsZero() {
				r.SetInt(ColLastchg, secondsSince(s.Now, sv.LastChange))
			}
			r.SetInt(ColLbtot, sv.Total)
			if c := sv.Check; c != nil {
				r.SetInt(ColChkfail, c.Failures)
				r.SetInt(ColChkdown, c.Downs)
				r.SetInt(ColDowntime, int64(sv.Downtime/time.Second))
				if c.Status != "" {
					r.SetStr(ColCheckStatus, c.Status)
					if c.Code != 0 {
						r.SetInt(ColCheckCode, int64(c.Code))
					}
					r.SetInt(ColCheckDuration, c.Duration.Milliseconds())
					r.SetStr(ColCheckDesc, c.Desc)
				}
				r.SetStr(ColLastChk, c.Info)
				r.SetInt(ColCheckRise, int64(c.Rise))
				r.SetInt(ColCheckFall, int64(c.Fall))
				r.SetInt(ColCheckHealth, int64(checkHealth(sv)))
			}
			r.SetStr(ColAddr, sv.Addr)
			r.SetStr(ColMode, mode)
			if mode == "http" {
				setHTTP(&r, &sv.Counters)
			}
			rows = append(rows, r)
		}
		r := NewRow(p.Name, "", TypeBackend, iid, 0)
		setCounters(&r, &be.Counters, s.Now, false)
		r.SetInt(ColQcur, be.Queue)
		r.SetInt(ColQmax, be.QueueMax)
		if be.Limit > 0 {
			r.SetInt(ColSlim, be.Limit)
		}
		r.SetInt(ColEcon, be.ErrConn)
		r.SetInt(ColEresp, be.ErrRsp)
		r.SetInt(ColWretr, be.Retries)
		r.SetInt(ColWredis, be.Redispatches)
		r.SetStr(ColStatus, be.StatusText())
		w, uw := be.weight()
		r.SetInt(ColWeight, w)
		r.SetInt(ColUweight, uw)
		act, bck := be.Up()
		r.SetInt(ColAct, int64(act))
		r.SetInt(ColBck, int64(bck))
		if !be.LastChange.IsZero() {
			r.SetInt(ColLastchg, secondsSince(s.Now, be.LastChange))
		}
		r.SetInt(ColChkdown, be.Downs)
		r.SetInt(ColDowntime, int64(be.Downtime/time.Second))
		r.SetInt(ColLbtot, be.Total)
		r.SetStr(ColMode, mode)
		algo := be.Algo
		if algo == "" {
			algo = "roundrobin"
		}
		r.SetStr(ColAlgo, algo)
		if mode == "http" {
			setHTTP(&r, &be.Counters)
		}
		rows = append(rows, r)
	}
	return rows
}

// setCounters fills the columns every row kind has.
func setCounters(r *Row, c *Counters, now time.Time, frontend bool) {
	r.SetInt(ColScur, c.Cur)
	r.SetInt(ColSmax, c.Max)
	r.SetInt(ColStot, c.Total)
	r.SetInt(ColBin, c.BytesIn)
	r.SetInt(ColBout, c.BytesOut)
	if frontend {
		r.SetInt(ColDreq, c.DeniedReq)
		r.SetInt(ColEreq, c.ErrReq)
	}
	r.SetInt(ColDresp, c.DeniedResp)
	r.SetInt(ColRate, c.Rate)
	r.SetInt(ColRateMax, c.RateMax)
	if !frontend {
		if c.LastSession.IsZero() {
			r.SetInt(ColLastsess, -1)
		} else {
			r.SetInt(ColLastsess, secondsSince(now, c.LastSession))
		}
	}
}

func setHTTP(r *Row, c *Counters) {
	for i, col := range []Col{ColHrsp1xx, ColHrsp2xx, ColHrsp3xx, ColHrsp4xx, ColHrsp5xx, ColHrspOther} {
		r.SetInt(col, c.HTTPResponses[i])
	}
	r.SetInt(ColReqTot, c.Requests)
}

// checkHealth is HAProxy's raw health counter (0..rise+fall-1) from the printed one.
func checkHealth(s *Server) int {
	c := s.Check
	if s.State == StateUp || s.State == StateDrain {
		return c.Health + c.Rise - 1
	}
	return c.Health
}

func secondsSince(now, t time.Time) int64 {
	if now.Before(t) {
		return 0
	}
	return int64(now.Sub(t) / time.Second)
}
