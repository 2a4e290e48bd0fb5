package cfgfile

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"global\n maxconn 10\n",
		"frontend a\n bind \"${X}:80\" 'b c' d\\ e # x\n",
		".if 1\nglobal\n.endif\n",
		"listen x 1.2.3.4:5\n server \\x41 \"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lookup := func(k string) (string, bool) { return "v", k == "X" }
		file, err := Parse("f", []byte(src), Options{Lookup: lookup})
		if err != nil {
			for _, e := range AsErrors(err) {
				if !strings.HasPrefix(e.Error(), "f:") {
					t.Fatalf("error without position: %q", e)
				}
			}
			return
		}
		for _, s := range file.Sections {
			for _, l := range s.Lines {
				if len(l.Words) == 0 || l.Pos.Line < 1 {
					t.Fatalf("empty or unpositioned line %+v", l)
				}
			}
		}
	})
}
