// Command containerd-shim runs one container on behalf of a daemon; see the
// shim package and PROTOCOL.md.
package main

import "github.com/seedrt/seed/shim"

func main() { shim.Main() }
