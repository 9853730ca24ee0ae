// Command base runs Base on one machine (`base serve`: the API, the
// embedded IAM and SQLite storage in one process) and mints development
// tokens (`base token`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Usage:
  base serve [--http 127.0.0.1:8090] [--dir ./base_data]
  base token --dir DIR --sub SUB --org ORG [--email E] [--name N] [--admin] [--global-admin] [--ttl 1h]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCommand(args[1:], stdout, stderr)
	case "token":
		return tokenCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "base: unknown command %q\n%s", args[0], usage)
	return 2
}

func serveCommand(args []string, stdout, stderr io.Writer) int {
	cfg := ConfigFromEnv(os.Getenv)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "listen address")
	fs.StringVar(&cfg.Dir, "dir", cfg.Dir, "data directory")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(cfg, stderr)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "base: %v\n", err)
		return 1
	}
	return 0
}
