// Command floor holds the devstack benchmarks' measuring side (see ../README.md): the
// event-driven floors the operator and the Docker driver are compared with, the counting
// proxies that attribute API requests to one client, and the table every script prints.
package main

import (
	"fmt"
	"os"
)

func main() {
	cmds := map[string]func([]string){
		"proxy":     cmdProxy,
		"floor":     cmdFloor,
		"devstacks": cmdDevStacks,
		"snapshot":  cmdSnapshot,
		"resync":    cmdResync,
		"drift":     cmdDrift,
		"table":     cmdTable,
		"sockproxy": cmdSockProxy,
		"physical":  cmdPhysical,
	}
	if len(os.Args) < 2 || cmds[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: floor proxy|floor|devstacks|snapshot|resync|drift|table|sockproxy|physical [flags]")
		os.Exit(2)
	}
	cmds[os.Args[1]](os.Args[2:])
}
