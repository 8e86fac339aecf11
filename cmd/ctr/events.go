package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// cmdEvents prints the events matching any of the filters, one line each
// (time, namespace, topic, event as JSON), until interrupted:
// Events.Subscribe.
func cmdEvents(g *globals, args []string) error {
	fs := newFlags("ctr events")
	c, filters, err := g.open(fs, args, 0, "")
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	envelopes, errs := c.Subscribe(ctx, filters...)
	for {
		select {
		case e := <-envelopes:
			var v any = e.Event
			if e.Event == nil {
				v = e.Raw
			}
			out, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode %s event: %w", e.Topic, err)
			}
			fmt.Println(e.Timestamp, e.Namespace, e.Topic, string(out))
		case err := <-errs:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
