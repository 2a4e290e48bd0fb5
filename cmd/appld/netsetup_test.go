package main

import (
	"appl/internal/cfgfile"
	"appl/netsetup"
)

func netsetupDecode(src string) (*netsetup.Config, error) {
	f, err := cfgfile.Parse("network.cfg", []byte(src), cfgfile.Options{})
	if err != nil {
		return nil, err
	}
	return netsetup.Decode(f)
}
