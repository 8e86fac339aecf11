package main

import (
	"context"
	"fmt"
	"runtime"
)

// cmdVersion: Version.Version.
func cmdVersion(g *globals, args []string) error {
	fs := newFlags("ctr version")
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Printf("Client:\n  Version:    %s\n  Go version: %s\n\n", version, runtime.Version())
	c, err := g.connect()
	if err != nil {
		return err
	}
	defer c.Close()
	v, err := c.Version(context.Background())
	if err != nil {
		return err
	}
	fmt.Printf("Server:\n  Version:    %s\n  Revision:   %s\n", v.Version, v.Revision)
	return nil
}
