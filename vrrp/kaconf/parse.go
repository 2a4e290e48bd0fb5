package kaconf

import (
	"fmt"
	"regexp"
	"strings"
)

// Node is one keepalived statement: its words and, for a block, its children.
type Node struct {
	Line     int
	Words    []string
	Block    bool
	Children []*Node
}

// Keyword is the statement's first word, or "".
func (n *Node) Keyword() string {
	if len(n.Words) == 0 {
		return ""
	}
	return n.Words[0]
}

// String is the statement as written (without its block), for reports.
func (n *Node) String() string {
	s := strings.Join(n.Words, " ")
	if n.Block {
		s += " { ... }"
	}
	return s
}

type token struct {
	line int
	text string
	word bool // false for a bare { or }
}

var defRE = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// lex splits keepalived text into tokens. Comments start at a `#` or `!` that begins a
// word; quotes group words and are removed; `{` and `}` outside quotes are always
// tokens of their own. `$NAME=value` lines define variables expanded in later words.
func lex(data []byte) ([]token, error) {
	vars := map[string]string{}
	var toks []token
	for i, raw := range strings.Split(string(data), "\n") {
		line := i + 1
		raw = strings.TrimRight(raw, "\r")
		if m := defRE.FindStringSubmatch(strings.TrimSpace(raw)); m != nil {
			vars[m[1]] = strings.TrimSpace(m[2])
			continue
		}
		if strings.IndexByte(raw, 0) >= 0 {
			return nil, fmt.Errorf("line %d: NUL byte", line)
		}
		var b strings.Builder
		inWord, quoted := false, false
		flush := func() {
			if inWord {
				toks = append(toks, token{line, expand(b.String(), vars), true})
			}
			b.Reset()
			inWord = false
		}
	scan:
		for j := 0; j < len(raw); j++ {
			c := raw[j]
			switch {
			case quoted:
				if c == '"' {
					quoted = false
					continue
				}
				b.WriteByte(c)
			case c == '"':
				quoted, inWord = true, true
			case c == '$' && j+1 < len(raw) && raw[j+1] == '{':
				// ${NAME} is one word, not a block
				end := strings.IndexByte(raw[j:], '}')
				if end < 0 {
					return nil, fmt.Errorf("line %d: unterminated ${", line)
				}
				b.WriteString(raw[j : j+end+1])
				inWord = true
				j += end
			case (c == '#' || c == '!') && !inWord:
				break scan
			case c == '{' || c == '}':
				flush()
				toks = append(toks, token{line, string(c), false})
			case c == ' ' || c == '\t':
				flush()
			default:
				b.WriteByte(c)
				inWord = true
			}
		}
		if quoted {
			return nil, fmt.Errorf("line %d: unterminated quote", line)
		}
		flush()
	}
	return toks, nil
}

var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand replaces $NAME and ${NAME} by their definitions; unknown names stay as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.Trim(m, "${}")
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}

// Parse reads keepalived.conf text into a statement tree. A `{` on its own line opens
// the block of the statement before it, as keepalived allows.
func Parse(data []byte) ([]*Node, error) {
	toks, err := lex(data)
	if err != nil {
		return nil, err
	}
	root := &Node{Block: true}
	stack := []*Node{root}
	var cur *Node // statement being collected, not yet attached
	finish := func() {
		if cur != nil {
			top := stack[len(stack)-1]
			top.Children = append(top.Children, cur)
			cur = nil
		}
	}
	for _, t := range toks {
		if cur != nil && t.line != cur.Line {
			finish()
		}
		switch {
		case t.word:
			if cur == nil {
				cur = &Node{Line: t.line}
			}
			cur.Words = append(cur.Words, t.text)
		case t.text == "{":
			var n *Node
			top := stack[len(stack)-1]
			if cur != nil {
				n = cur
				finish()
			} else if k := len(top.Children); k > 0 && !top.Children[k-1].Block {
				n = top.Children[k-1]
			} else {
				return nil, fmt.Errorf("line %d: `{` without a statement before it", t.line)
			}
			n.Block = true
			stack = append(stack, n)
		default: // "}"
			finish()
			if len(stack) == 1 {
				return nil, fmt.Errorf("line %d: `}` without an open block", t.line)
			}
			stack = stack[:len(stack)-1]
		}
	}
	finish()
	if len(stack) > 1 {
		return nil, fmt.Errorf("line %d: block %q not closed (expected `}`)", stack[len(stack)-1].Line, stack[len(stack)-1].Keyword())
	}
	return root.Children, nil
}
