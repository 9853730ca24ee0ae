package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hanzoai/base/iam"
)

const tokenUsage = `Usage: base token --dir DIR --sub SUB --org ORG [--email E] [--name N] [--admin] [--global-admin]
                  [--ttl 1h] [--orgs ORG:ROLE]... [--aud AUDIENCE]

Prints an access token signed by the embedded IAM of DIR, accepted by
'base serve --dir DIR'. A negative --ttl mints an already-expired token.

`

// tokenCommand implements `base token`: it mints a user access token with
// the dev issuer of --dir and prints it and a newline to stdout. It returns
// the exit code: 0, 1 on failure, 2 on bad usage.
//
// --dir defaults to $BASE_DIR, else ./base_data; --aud to $IAM_AUDIENCE
// (what `base serve` requires). When the directory has no issuer yet, it is
// created with issuer http://$BASE_HTTP (default 127.0.0.1:8090), the origin
// `base serve` would use.
func tokenCommand(args []string, stdout, stderr io.Writer) int {
	dir := os.Getenv("BASE_DIR")
	if dir == "" {
		dir = "./base_data"
	}
	listen := os.Getenv("BASE_HTTP")
	if listen == "" {
		listen = "127.0.0.1:8090"
	}
	c := iam.UserClaims{Audience: os.Getenv("IAM_AUDIENCE")}
	ttl := time.Hour

	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, tokenUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&dir, "dir", dir, "data directory holding the embedded IAM's key")
	fs.StringVar(&c.Subject, "sub", "", "subject (sub claim), e.g. acme/alice (required)")
	fs.StringVar(&c.Org, "org", "", "organization (owner claim) (required)")
	fs.StringVar(&c.Email, "email", "", "email claim (marked verified)")
	fs.StringVar(&c.Name, "name", "", "name claim (default: the subject)")
	fs.BoolVar(&c.Admin, "admin", false, "isAdmin: superuser of --org")
	fs.BoolVar(&c.GlobalAdmin, "global-admin", false, "isGlobalAdmin: platform superuser")
	fs.DurationVar(&ttl, "ttl", ttl, "lifetime; negative for an expired token")
	fs.StringVar(&c.Audience, "aud", c.Audience, "aud claim (default $IAM_AUDIENCE)")
	fs.Func("orgs", "membership ORG:ROLE for the orgs claim (repeatable)", func(s string) error {
		org, role, ok := strings.Cut(s, ":")
		if !ok || org == "" || role == "" {
			return errors.New("want ORG:ROLE")
		}
		c.Orgs = append(c.Orgs, iam.OrgRole{Org: org, Role: role})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "base token: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if c.Subject == "" || c.Org == "" {
		fmt.Fprintln(stderr, "base token: --sub and --org are required")
		fs.Usage()
		return 2
	}
	c.EmailVerified = c.Email != ""
	if err := c.Validate(); err != nil {
		fmt.Fprintf(stderr, "base token: %v\n", err)
		return 2
	}

	d, err := iam.OpenDevIssuer(dir, "http://"+listen)
	if err != nil {
		fmt.Fprintf(stderr, "base token: %v\n", err)
		return 1
	}
	tok, err := d.Mint(c.Map(), ttl)
	if err != nil {
		fmt.Fprintf(stderr, "base token: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintln(stdout, tok); err != nil {
		fmt.Fprintf(stderr, "base token: %v\n", err)
		return 1
	}
	return 0
}
