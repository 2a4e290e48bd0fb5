package kaconf

import (
	"strings"
	"testing"

	"appl/internal/cfgfile"
)

func TestParseSyntax(t *testing.T) {
	in := "# comment\n! bang comment\nvrrp_instance VI_1\n{\n  interface eth0 # trailing\n  notify \"/bin/x a#b\"   ! trailing bang\n  virtual_ipaddress { 10.0.0.1 }\n  a!b\n}\n$V=42\nx ${V} $V\n"
	nodes, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Keyword() != "vrrp_instance" || !nodes[0].Block || nodes[0].Line != 3 {
		t.Fatalf("top: %+v", nodes)
	}
	c := nodes[0].Children
	if len(c) != 4 {
		t.Fatalf("children: %d", len(c))
	}
	if strings.Join(c[0].Words, "|") != "interface|eth0" || c[0].Line != 5 {
		t.Errorf("comment not cut: %q", c[0].Words)
	}
	if strings.Join(c[1].Words, "|") != "notify|/bin/x a#b" {
		t.Errorf("quotes: %q", c[1].Words)
	}
	if !c[2].Block || len(c[2].Children) != 1 || c[2].Children[0].Words[0] != "10.0.0.1" {
		t.Errorf("one-line block: %+v", c[2])
	}
	if c[3].Words[0] != "a!b" {
		t.Errorf("! inside a word is not a comment: %q", c[3].Words)
	}
	if strings.Join(nodes[1].Words, "|") != "x|42|42" {
		t.Errorf("variables: %q", nodes[1].Words)
	}
	for _, bad := range []string{"a {\n", "}\n", "{\n", "a \"unterminated\n", "a {\n b ${X\n}\n", "x {\n}\n{\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q: expected a syntax error", bad)
		}
		if _, err := Translate("f", []byte(bad)); err == nil {
			t.Errorf("%q: Translate expected a syntax error", bad)
		}
	}
}

func TestUnknownBlocksReported(t *testing.T) {
	in := `include /etc/keepalived/other.conf
virtual_server 10.0.0.1 80
{
    real_server 10.0.0.2 80 {
        weight 1
    }
}
static_ipaddress {
    10.0.0.9/24 dev eth0
}
vrrp_instance V {
    interface eth0
    virtual_router_id 1
    virtual_ipaddress {
        10.0.0.1/24
    }
    virtual_ipaddress_excluded {
        10.0.0.2
    }
    track_script {
        missing
    }
}
stray words
`
	res := translate(t, in)
	want := map[int]string{1: "include", 2: "virtual_server", 8: "static_ipaddress", 17: "virtual_ipaddress_excluded", 21: "missing", 24: "stray words"}
	if len(res.NotMigrated) != len(want) {
		t.Fatalf("not migrated: %v", res.NotMigrated)
	}
	for _, n := range res.NotMigrated {
		if !strings.Contains(n.Text, want[n.Line]) || want[n.Line] == "" {
			t.Errorf("unexpected note %v", n)
		}
		if !strings.Contains(res.Config, "# not migrated: "+n.String()) {
			t.Errorf("note %v not in the output", n)
		}
	}
	if strings.Contains(res.Config, "real_server") {
		t.Errorf("inner LVS lines leaked:\n%s", res.Config)
	}
	if got := body(res.Config); strings.Join(got, ";") != "vrrp V;interface eth0;vrid 1;address 10.0.0.1/24" {
		t.Errorf("body %q", got)
	}
}

// IPv6 instances run VRRPv3 in keepalived; authentication does not exist there.
func TestVersionRules(t *testing.T) {
	in := "global_defs {\n vrrp_version 3\n vrrp_garp_master_repeat 2\n}\n" +
		"vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 0.5\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n" +
		"vrrp_instance B {\n interface eth0\n virtual_router_id 2\n version 2\n authentication {\n  auth_type AH\n  auth_pass x\n }\n virtual_ipaddress {\n  10.0.0.2\n }\n}\n" +
		"vrrp_instance C {\n interface eth0\n virtual_router_id 3\n authentication {\n  auth_type PASS\n  auth_pass x\n }\n virtual_ipaddress {\n  fd00::1/64\n }\n}\n"
	res := translate(t, in)
	got := strings.Join(body(res.Config), ";")
	want := "vrrp A;interface eth0;vrid 1;advert-int 500ms;address 10.0.0.1;version 3;garp-repeat 2;" +
		"vrrp B;interface eth0;vrid 2;address 10.0.0.2;version 2;garp-repeat 2;" +
		"vrrp C;interface eth0;vrid 3;address fd00::1/64;version 3;garp-repeat 2"
	if got != want {
		t.Fatalf("got  %s\nwant %s\n%s", got, want, res.Config)
	}
	if len(res.NotMigrated) != 2 || res.NotMigrated[0].Line != 17 || res.NotMigrated[1].Line != 28 {
		t.Errorf("auth notes: %v", res.NotMigrated)
	}
	if strings.Contains(res.Config, "auth_pass x") {
		t.Errorf("a password reached the output comments:\n%s", res.Config)
	}
}

// word must survive appl's lexer unchanged.
func TestWordQuoting(t *testing.T) {
	for _, s := range []string{"plain", "/bin/x arg", "a#b", "$HOME ${X}", `it's "q" \ $x`, "tab\there", ""} {
		got, err := cfgfile.SplitLine("k "+word(s), func(string) (string, bool) { return "EXPANDED", true })
		if err != nil || len(got) != 2 || got[1] != s {
			t.Errorf("%q -> %s -> %q %v", s, word(s), got, err)
		}
	}
}

func FuzzTranslate(f *testing.F) {
	f.Add([]byte("vrrp_instance V {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1\n }\n}\n"))
	f.Add([]byte("a\n{\n b \"c d\" ${X} # e\n}\n$X=1\n! x\n"))
	f.Add([]byte("vrrp_sync_group G {\n group { A B }\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Translate("fuzz", data)
		if err != nil {
			return
		}
		// The output is always lexable appl text: every line splits without error.
		for _, l := range strings.Split(res.Config, "\n") {
			if _, err := cfgfile.SplitLine(l, func(string) (string, bool) { return "", false }); err != nil {
				t.Fatalf("output line %q: %v", l, err)
			}
		}
	})
}
