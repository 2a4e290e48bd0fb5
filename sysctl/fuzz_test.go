package sysctl

import (
	"testing"

	"appl/internal/cfgfile"
)

func FuzzDecode(f *testing.F) {
	f.Add("sysctl\n profile loadbalancer\n set net.ipv4.tcp_rmem 32768 699040 50331648\n persist /tmp/x.conf\n")
	f.Add("sysctl\n set net.ipv4.conf.eth0/100.rp_filter 2\n set-unchecked a.b 1\n nofile 100000\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := cfgfile.Parse("f.cfg", []byte(text), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		c, err := Decode(file)
		if err != nil {
			return
		}
		// Every checked value that decodes is valid for its key, and normalizing is stable.
		for _, s := range c.Sets {
			if s.Unchecked {
				continue
			}
			v, err := normalize(s.Key, s.Value)
			if err != nil || v != s.Value {
				t.Fatalf("%s %q re-normalizes to %q, %v", s.Key, s.Value, v, err)
			}
		}
		_ = Wants(c, Memory{Bytes: 1 << 30, PageSize: 4096})
	})
}
