package netsetup

import (
	"fmt"
	"runtime"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// System is a network namespace netsetup reads and changes: a netlink handle and an
// nftables connection both bound to it, so it can be used from any goroutine.
type System struct {
	nl  *netlink.Handle
	nft *nftables.Conn
	ns  netns.NsHandle
}

// Open binds to the network namespace of the calling thread (normally the process's).
func Open() (*System, error) {
	runtime.LockOSThread()
	ns, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		return nil, fmt.Errorf("netsetup: current netns: %w", err)
	}
	return open(ns)
}

// OpenNetNS binds to the namespace at path (e.g. /run/netns/NAME or /proc/PID/ns/net).
func OpenNetNS(path string) (*System, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("netsetup: open netns %s: %w", path, err)
	}
	return open(ns)
}

func open(ns netns.NsHandle) (*System, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netsetup: netlink: %w", err)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)), nftables.AsLasting())
	if err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("netsetup: nftables: %w", err)
	}
	return &System{nl: h, nft: c, ns: ns}, nil
}

// Close releases the handles.
func (s *System) Close() error {
	s.nl.Close()
	err := s.nft.CloseLasting()
	s.ns.Close()
	return err
}
