package runtime

import (
	"strings"
	"testing"
)

// FuzzCommandLine feeds arbitrary lines to the splitter and to every
// command at admin level against the fake target: no panic (a handler
// panic would show as "Internal error"), every answer terminated, and the
// splitter's words free of unescaped separators.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{
		"show info", "show stat -1 4 -1", "show table be1 data.conn_cnt gt 1", `set table st key a\ b data.gpc0 1`,
		"set server be1/s1 weight 50%", "set server be1/s1 state drain;get weight be1/s1", "add map #1 1.2.3.4 x",
		"del map #1 #0x1", "get acl #0 10.1.1.1", "shutdown session 0x1a2b", "set maxconn global 12", "prompt;quit",
		"help set", "foo bar", `\`, ";;", "show sess 0x", "clear table be1 key 1.1.1.1", "set weight be1/s1 -%",
	} {
		f.Add(s)
	}
	ft := newFakeTarget(f)
	srv := NewServer(ft, nil)
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > MaxLine {
			return
		}
		for _, cmd := range SplitCommands(line) {
			words, err := SplitWords(cmd)
			if err != nil {
				continue
			}
			if len(words) > MaxArgs {
				t.Fatalf("%d words", len(words))
			}
			for _, w := range words {
				if w == "" && !strings.Contains(cmd, `\`) {
					t.Fatalf("empty word from %q", cmd)
				}
			}
		}
		out := srv.Exec(LevelAdmin, line)
		if strings.Contains(out, "Internal error") {
			t.Fatalf("handler panicked on %q: %q", line, out)
		}
		if !strings.HasSuffix(out, "\n") && !strings.HasSuffix(out, "\n> ") && !strings.Contains(line, "quit") {
			t.Fatalf("answer to %q not terminated: %q", line, out)
		}
		if n := len(SplitCommands(line)); strings.Count(out, "\n") < n && !strings.Contains(line, "quit") {
			t.Fatalf("%d commands, answer %q", n, out)
		}
	})
}
