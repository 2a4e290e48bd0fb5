package kaconf

import (
	"fmt"
	"strings"
	"testing"

	"appl/appliance"
)

func translate(t *testing.T, in string) *Result {
	t.Helper()
	res, err := Translate("test.conf", []byte(in))
	if err != nil {
		t.Fatalf("Translate: %v\n%s", err, in)
	}
	return res
}

// body is the output without comment lines and indentation, one statement a line.
func body(cfg string) []string {
	var out []string
	for _, l := range strings.Split(cfg, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func TestEveryMappedKeyword(t *testing.T) {
	in := `! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL      # not migrated
}
vrrp_script chk_web {
    script "/usr/bin/curl -fs http://127.0.0.1/"
    interval 2
    timeout 3
    rise 2
    fall 3
    weight -20
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass secret12345
    }
    virtual_ipaddress {
        192.168.200.16/24 dev eth1 label eth1:1
        192.168.200.17
    }
    unicast_src_ip 10.0.0.1/24
    unicast_peer {
        10.0.0.2
        10.0.0.3
    }
    preempt_delay 30
    use_vmac vrrp51
    vmac_xmit_base
    notify_master "/etc/ka/master.sh arg"
    notify_backup /etc/ka/backup.sh
    notify_fault /etc/ka/fault.sh
    notify /etc/ka/any.sh nobody
    track_interface {
        eth0
        eth1 weight -10
    }
    track_script {
        chk_web weight 5
    }
    garp_master_delay 2
    garp_master_repeat 3
    garp_master_refresh 60
    smtp_alert
}
vrrp_instance VI_2 {
    interface eth0
    virtual_router_id 52
    nopreempt
    preempt_delay 10
    virtual_ipaddress {
        192.168.200.18
    }
}
vrrp_sync_group G1 {
    group {
        VI_1
        VI_2
    }
    notify_master /etc/ka/group.sh
}
`
	res := translate(t, in)
	want := []string{
		"vrrp VI_1",
		"interface eth0",
		"vrid 51",
		"priority 150",
		"advert-int 1s",
		"auth-pass secret12",
		"address 192.168.200.16/24 dev eth1",
		"address 192.168.200.17",
		"unicast-src 10.0.0.1",
		"unicast-peer 10.0.0.2 10.0.0.3",
		"preempt delay 30s",
		"use-vmac vrrp51",
		"vmac-xmit-base",
		"notify-master '/etc/ka/master.sh arg'",
		"notify-backup /etc/ka/backup.sh",
		"notify-fault /etc/ka/fault.sh",
		"notify /etc/ka/any.sh",
		"track-interface eth0",
		"track-interface eth1 weight -10",
		"track-script '/usr/bin/curl -fs http://127.0.0.1/' interval 2s timeout 3s rise 2 fall 3 weight 5",
		"garp-delay 2s",
		"garp-repeat 3",
		"garp-refresh 60s",
		"vrrp VI_2",
		"interface eth0",
		"vrid 52",
		"nopreempt",
		"address 192.168.200.18",
		"vrrp-group G1",
		"member VI_1 VI_2",
		"notify-master /etc/ka/group.sh",
	}
	if got := body(res.Config); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.Config)
	}
	for _, s := range []string{
		"# dropped: line 14: state MASTER",
		"# not migrated: line 3: router_id LVS_DEVEL",
		"# not migrated: line 24: 192.168.200.16/24 options label eth1:1",
		"# not migrated: line 49: smtp_alert",
		"# not migrated: line 55: preempt_delay 10 (keepalived ignores it with nopreempt)",
		"auth_pass truncated",
		"# not migrated: line 38: notify /etc/ka/any.sh nobody (run as user/group nobody: appl runs hooks as itself)",
	} {
		if !strings.Contains(res.Config, s) {
			t.Errorf("output lacks %q:\n%s", s, res.Config)
		}
	}
	var lines []int
	for _, n := range res.NotMigrated {
		lines = append(lines, n.Line)
	}
	if got := fmt.Sprint(lines); got != "[3 24 38 49 55]" {
		t.Errorf("not migrated lines %s, want [3 24 38 49 55]: %v", got, res.NotMigrated)
	}
	if res.Instances != 2 || res.Groups != 1 {
		t.Errorf("counts %d/%d", res.Instances, res.Groups)
	}
	if _, err := appliance.Decode("m.cfg", []byte("global\n"+res.Config)); err != nil {
		t.Fatalf("output does not decode: %v\n%s", err, res.Config)
	}
}
