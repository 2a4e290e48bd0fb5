package main

import (
	"fmt"
	"testing"
	"time"

	"appl/internal/testbed"
)

// The speaker runs alone: `appld -f FILE` with only a vrrp section, on two namespaced
// hosts. The higher priority holds the VIP; SIGKILL moves it to the other node, and the
// killed node's copy leaves its interface by itself (the address lifetime).
func TestVRRPOnlyConfigThroughAppld(t *testing.T) {
	b := testbed.New(t)
	sw := b.Switch("sw")
	n1, n2 := b.Host("n1"), b.Host("n2")
	b.Plug(n1, sw, "eth0", "198.18.5.1/24")
	b.Plug(n2, sw, "eth0", "198.18.5.2/24")
	const vip = "198.18.5.100"
	cfg := func(prio int) string {
		return fmt.Sprintf(`vrrp vi_1
    interface eth0
    vrid 51
    version 3
    advert-int 100ms
    priority %d
    address %s/24
`, prio, vip)
	}
	p1 := startAppld(t, n1, cfg(150))
	testbed.Eventually(t, 5*time.Second, 10*time.Millisecond, "n1 master with the VIP", func() bool { return n1.HasAddr("eth0", vip) })
	startAppld(t, n2, cfg(100))
	// n2 starts as backup: it must not take the VIP while n1 advertises.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if n2.HasAddr("eth0", vip) {
			t.Fatal("backup took the VIP while the master was alive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	killed := time.Now()
	p1.Kill()
	testbed.Eventually(t, 2*time.Second, 10*time.Millisecond, "n2 takes the VIP", func() bool { return n2.HasAddr("eth0", vip) })
	t.Logf("failover after SIGKILL: %v", time.Since(killed).Round(time.Millisecond))
	testbed.Eventually(t, 5*time.Second, 50*time.Millisecond, "the killed master's VIP expires", func() bool { return !n1.HasAddr("eth0", vip) })
	t.Logf("killed master's VIP gone after %v", time.Since(killed).Round(time.Millisecond))
}
