package runtime

import (
	"errors"
	"strings"
)

// MaxArgs is the most words a command may have, as HAProxy's MAX_CLI_ARGS.
const MaxArgs = 64

// MaxLine bounds a command line (HAProxy's tune.bufsize default).
const MaxLine = 16384

var errTooManyArgs = errors.New("Too many arguments (at most 64).")

// SplitCommands splits a line at each ';' not preceded by a backslash. The
// escapes stay in place for SplitWords, so `\;` reaches it as `\;` and
// becomes a literal ';' there.
func SplitCommands(line string) []string {
	var out []string
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++ // the next byte is escaped, whatever it is
		case ';':
			out = append(out, line[start:i])
			start = i + 1
		}
	}
	return append(out, line[start:])
}

// SplitWords splits one command into words at spaces and tabs, as
// HAProxy's CLI does: a backslash makes the next byte literal (`\ `, `\;`,
// `\\`); a lone trailing backslash is dropped. There are no quotes.
func SplitWords(cmd string) ([]string, error) {
	var words []string
	var b strings.Builder
	in := false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			if in {
				words = append(words, b.String())
				b.Reset()
				in = false
			}
			continue
		case c == '\\':
			in = true
			if i+1 < len(cmd) {
				i++
				b.WriteByte(cmd[i])
			}
		default:
			in = true
			b.WriteByte(c)
		}
		if len(words) >= MaxArgs {
			return nil, errTooManyArgs
		}
	}
	if in {
		words = append(words, b.String())
	}
	if len(words) > MaxArgs {
		return nil, errTooManyArgs
	}
	return words, nil
}
