package tcprules

import (
	"net/netip"

	"appl/proxy/acl"
	"appl/proxy/stick"
)

// Connection runs the tcp-request connection rules at accept, before anything is read.
// Every frontend calls it, also without rules: it makes r the session's frontend.
func (r *Rules) Connection(s *Session) Verdict {
	s.cur, s.front = r, r
	return r.run(s, r.conn, true)
}

// Session runs the tcp-request session rules once the handshake is done (PROXY header
// read, TLS terminated) and then counts the session on the counters tracked so far
// (sess_cnt, sess_rate), as HAProxy does. Call it for every accepted connection, after
// Connection, also without rules.
func (r *Rules) Session(s *Session) Verdict {
	s.cur = r
	v := r.run(s, r.sess, true)
	if v == Accept {
		s.countSession()
	}
	return v
}

// Content runs the tcp-request content rules: the frontend's first, then, once the
// backend is chosen, the backend's (a backend that is the other half of the same listen
// section does not run them twice). Call it right away unless NeedsData() (then once
// client data is there or InspectDelay has passed).
func (r *Rules) Content(s *Session) Verdict {
	if s.contentRan[0] == r || s.contentRan[1] == r {
		return Accept
	}
	if s.front == nil {
		s.front = r
	} else if r.role&Frontend == 0 && s.front != r && s.front.name == r.name {
		return Accept
	}
	if s.contentRan[0] == nil {
		s.contentRan[0] = r
	} else {
		s.contentRan[1] = r
	}
	s.cur = r
	return r.run(s, r.content, false)
}

// run evaluates rules in order: accept, reject and silent-drop end the evaluation,
// the other actions go on; without a final action the verdict is Accept.
func (r *Rules) run(s *Session, rules []rule, session bool) Verdict {
	for i := range rules {
		ru := &rules[i]
		if ru.cond != nil && !ru.cond.Match(&s.Txn) {
			continue
		}
		switch ru.act {
		case actAccept:
			return Accept
		case actReject:
			return Reject
		case actSilentDrop:
			return SilentDrop
		case actTrack:
			if s.sc[ru.sc].e != nil || ru.table == nil || ru.table.t == nil {
				continue
			}
			t := ru.table.t
			if k, ok := sampleKey(t, ru.table.kt, ru.key, &s.Txn); ok {
				s.track(ru.sc, t, k, session)
			}
		case actIncGPC0:
			if e := s.sc[ru.sc].e; e != nil {
				e.IncGPC0()
			}
		case actIncGPC1:
			if e := s.sc[ru.sc].e; e != nil {
				e.IncGPC1()
			}
		case actSetGPT0:
			if e := s.sc[ru.sc].e; e != nil {
				v := ru.val
				if ru.key != nil {
					smp, ok := ru.key.Eval(&s.Txn)
					if !ok {
						continue
					}
					if v, ok = smp.AsInt(); !ok {
						continue
					}
				}
				e.SetGPT0(uint32(v))
			}
		case actSetVar:
			if smp, ok := ru.key.Eval(&s.Txn); ok {
				s.Txn.SetVar(ru.varName, smp)
			}
		case actUnsetVar:
			s.Txn.UnsetVar(ru.varName)
		}
	}
	return Accept
}

// Usable tells StickServer whether a server may take the connection (exists in the
// backend and is up, or `option persist` / force-persist say so). name is "" and id
// the server_id when the entry has no server_key. nil accepts any stored server.
type Usable func(name string, id int) bool

// StickServer runs the stick match rules (stick match, stick on) before the balancing
// algorithm and returns the server the first matching entry sticks to, if usable says
// it may be used: the name (server_key) when stored, else the id (server_id, e.g. set
// by `set table`). ok is false when the balancing algorithm must choose. It also
// notes the keys of the store rules (stick on, store-request, store-response) for
// StickStore. Call it once per connection (per request in http mode) with the
// backend's Rules.
func (r *Rules) StickServer(s *Session, usable Usable) (name string, id int, ok bool) {
	s.cur = r
	s.nstores = 0
	for i := range r.stick {
		sr := &r.stick[i]
		t := sr.table.t
		if t == nil {
			continue
		}
		// Only the first store rule of each table applies (HAProxy: later ones are
		// fallbacks for when an earlier key could not be fetched).
		storeDone := false
		if sr.kind&stickStore != 0 {
			for _, st := range s.stores[:s.nstores] {
				if st.t == t {
					storeDone = true
					break
				}
			}
			if storeDone && sr.kind&stickMatch == 0 {
				continue
			}
		}
		if sr.cond != nil && !sr.cond.Match(&s.Txn) {
			continue
		}
		k, kok := sampleKey(t, sr.table.kt, sr.key, &s.Txn)
		if !kok {
			continue
		}
		if sr.kind&stickMatch != 0 && !ok {
			if e := t.Lookup(k); e != nil {
				sid, sname := e.Server()
				if (sname != "" || sid > 0) && (usable == nil || usable(sname, sid)) {
					name, id, ok = sname, sid, true
					e.Touch()
				}
			}
		}
		if sr.kind&stickStore != 0 && !storeDone && s.nstores < maxStores {
			s.stores[s.nstores] = store{t: t, k: k, response: sr.kind&stickResponse != 0}
			s.nstores++
		}
	}
	return name, id, ok
}

// StickStore records the server chosen for the connection under the keys noted by
// StickServer's store-request rules (stick on, stick store-request). Call it once the
// server connection is established; not for a `non-stick` server.
func (r *Rules) StickStore(s *Session, serverID int, serverName string) {
	r.stickStore(s, serverID, serverName, false)
}

// StickStoreResponse does the same for stick store-response rules; call it when the
// server first answers. In tcp mode their key is fetched from the request side (the
// same Txn) when StickServer runs: appl has no response-side fetches in tcp mode yet.
func (r *Rules) StickStoreResponse(s *Session, serverID int, serverName string) {
	r.stickStore(s, serverID, serverName, true)
}

func (r *Rules) stickStore(s *Session, serverID int, serverName string, response bool) {
	for i := 0; i < s.nstores; i++ {
		st := &s.stores[i]
		if st.t == nil || st.response != response {
			continue
		}
		e, err := st.t.GetOrCreate(st.k)
		st.t = nil
		if err != nil {
			continue
		}
		e.SetServer(serverID, serverName)
		if r.countStick && s.nstuck < len(s.stuck) && !s.tracks(e) && !s.sticks(e) && e.Acquire() {
			e.CountConn()
			e.CountSess()
			s.stuck[s.nstuck] = e
			s.nstuck++
		}
	}
}

// sticks reports whether e is already counted by a stick store of this session.
func (s *Session) sticks(e *stick.Entry) bool {
	for _, x := range s.stuck[:s.nstuck] {
		if x == e {
			return true
		}
	}
	return false
}

// sampleKey evaluates a key expression and converts the sample to a key of t, the way
// HAProxy casts samples to table keys.
// kt is t's key type (Table.Def copies the definition: too slow per connection).
func sampleKey(t *stick.Table, kt stick.KeyType, e *acl.Expr, txn *acl.Txn) (stick.Key, bool) {
	smp, ok := e.Eval(txn)
	if !ok {
		return stick.Key{}, false
	}
	return toKey(t, kt, smp)
}

func toKey(t *stick.Table, kt stick.KeyType, smp acl.Sample) (stick.Key, bool) {
	switch kt {
	case stick.TypeIP, stick.TypeIPv6:
		var a netip.Addr
		switch smp.Type {
		case acl.TypeIP:
			a = smp.IP
		case acl.TypeInt, acl.TypeBool:
			v := uint32(smp.Int)
			a = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		default:
			var err error
			if a, err = netip.ParseAddr(smp.Str); err != nil {
				return stick.Key{}, false
			}
		}
		return t.AddrKey(a)
	case stick.TypeInteger:
		v, ok := smp.AsInt()
		if !ok {
			return stick.Key{}, false
		}
		return t.IntKey(uint32(v)), true
	case stick.TypeString:
		if smp.Type == acl.TypeStr {
			return t.StringKey(smp.Str), true
		}
		return t.StringKey(smp.String()), true
	case stick.TypeBinary:
		if smp.Type == acl.TypeIP {
			if smp.IP.Is4() {
				b := smp.IP.As4()
				return t.BinaryKey(b[:]), true
			}
			b := smp.IP.As16()
			return t.BinaryKey(b[:]), true
		}
		return t.BinaryKey([]byte(smp.String())), true
	}
	return stick.Key{}, false
}
