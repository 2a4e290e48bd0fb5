package vrrp

import (
	"testing"

	"appl/internal/cfgfile"
)

// FuzzDecode: any section text decodes or fails with positioned errors, never panics.
func FuzzDecode(f *testing.F) {
	f.Add("vrrp a\n interface eth0\n vrid 1\n address 198.18.0.1/24\n preempt delay 3s\n track-script \"x\" interval 1s weight -3\n")
	f.Add("carp c\n interface hn1\n vhid 4\n advskew 100\n pass p\n address 10.2.2.4/24\nvrrp-group g\n member c\n")
	f.Fuzz(func(t *testing.T, src string) {
		file, err := cfgfile.Parse("f", []byte(src), cfgfile.Options{Lookup: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		cfg, err := Decode(file)
		if err != nil {
			if len(cfgfile.AsErrors(err)) == 0 {
				t.Fatalf("unpositioned error: %v", err)
			}
			return
		}
		for _, in := range cfg.Instances {
			if in.Interface == "" || in.VRID < 1 || in.VRID > 255 || len(in.Addresses) == 0 {
				t.Fatalf("invalid instance accepted: %+v", in)
			}
		}
	})
}
