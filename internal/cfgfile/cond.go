package cfgfile

import "strings"

// condStack evaluates HAProxy's .if/.elif/.else/.endif blocks. appl supports the
// predicates that make sense without a running haproxy: defined(VAR), feature(NAME)
// (always false: appl advertises no haproxy build features), and the literal 0/1.
type condStack struct {
	frames []condFrame
	lookup func(string) (string, bool)
}

type condFrame struct {
	pos   Pos
	taken bool // some branch of this block was already taken
	on    bool // the current branch is active
	outer bool // the enclosing block was active
}

func (c *condStack) skipping() bool {
	n := len(c.frames)
	return n > 0 && !(c.frames[n-1].on && c.frames[n-1].outer)
}

func (c *condStack) handle(l Line, f *File) *Error {
	active := !c.skipping()
	switch l.Keyword() {
	case ".if":
		v, err := c.eval(l)
		if err != nil {
			return err
		}
		c.frames = append(c.frames, condFrame{pos: l.Pos, taken: v, on: v, outer: active})
	case ".elif":
		if len(c.frames) == 0 {
			return l.Errorf("without .if")
		}
		fr := &c.frames[len(c.frames)-1]
		v, err := c.eval(l)
		if err != nil {
			return err
		}
		fr.on = !fr.taken && v
		fr.taken = fr.taken || v
	case ".else":
		if len(c.frames) == 0 {
			return l.Errorf("without .if")
		}
		fr := &c.frames[len(c.frames)-1]
		fr.on = !fr.taken
		fr.taken = true
	case ".endif":
		if len(c.frames) == 0 {
			return l.Errorf("without .if")
		}
		c.frames = c.frames[:len(c.frames)-1]
	case ".notice", ".warning", ".alert", ".diag":
		if active {
			f.Notes = append(f.Notes, l)
		}
	default:
		return l.Errorf("unknown directive (expected .if, .elif, .else, .endif, .notice, .warning, .alert or .diag)")
	}
	return nil
}

func (c *condStack) eval(l Line) (bool, *Error) {
	if len(l.Words) < 2 {
		return false, l.Errorf("missing condition")
	}
	expr := strings.Join(l.Words[1:], " ")
	neg := false
	if strings.HasPrefix(expr, "!") {
		neg, expr = true, strings.TrimSpace(expr[1:])
	}
	var v bool
	switch {
	case expr == "0" || expr == "1":
		v = expr == "1"
	case strings.HasPrefix(expr, "defined(") && strings.HasSuffix(expr, ")"):
		_, v = c.lookup(expr[len("defined(") : len(expr)-1])
	case strings.HasPrefix(expr, "feature(") && strings.HasSuffix(expr, ")"):
		v = false
	default:
		return false, l.Errorf("unsupported condition %q (expected 0, 1, defined(VAR) or feature(NAME), optionally negated with !)", expr)
	}
	return v != neg, nil
}
