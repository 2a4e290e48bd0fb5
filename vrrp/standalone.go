package vrrp

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"appl/internal/cfgfile"
)

// RunStandalone runs a speaker from the vrrp/carp/vrrp-group sections of a config file
// until ctx ends (`appld -f FILE` with only these sections, and the integration tests'
// child processes). Other sections are left to their owners and ignored here.
func RunStandalone(ctx context.Context, cfgPath string, log *zap.Logger, opts Options) error {
	f, err := cfgfile.ParseFile(cfgPath, cfgfile.Options{})
	if err != nil {
		return err
	}
	cfg, err := Decode(f)
	if err != nil {
		return err
	}
	if len(cfg.Instances) == 0 {
		return fmt.Errorf("%s: no vrrp or carp section", cfgPath)
	}
	sp, err := New(cfg, log, opts)
	if err != nil {
		return err
	}
	return sp.Run(ctx)
}
