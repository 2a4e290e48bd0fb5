package e2e

import (
	"context"

	"appl/appliance/admin"
)

// collectEvents follows a node's event stream until the returned stop is called.
func collectEvents(sock string) (get func() []admin.Event, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var evs = make(chan admin.Event, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = admin.NewUnixClient(sock).Events(ctx, func(e admin.Event) {
			select {
			case evs <- e:
			default:
			}
		})
	}()
	var got []admin.Event
	return func() []admin.Event {
			for {
				select {
				case e := <-evs:
					got = append(got, e)
				default:
					return got
				}
			}
		}, func() {
			cancel()
			<-done
		}
}
