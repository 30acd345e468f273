// Package devtoken mints development tokens, signed with the configured HS256 secret: the
// `token` command, and the two tokens the server prints at start outside production.
package devtoken

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/config"
)

// Command is `recert token --sub SUB ...`: it prints one development token to out.
func Command(cfg config.Config, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	sub := fs.String("sub", "", "subject (required)")
	personal := fs.Bool("personal", true, "personal Microsoft account (tid = consumer tenant)")
	work := fs.Bool("work", false, "work or school account")
	roles := fs.String("roles", "", "comma-separated roles: support, exam-delivery, admin")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	if _, err := cfg.EnsureDevSecret(); err != nil {
		return err
	}
	if len(cfg.HS256Secret) == 0 {
		return errors.New("token: no HS256 secret configured (set AUTH_HS256_SECRET)")
	}
	var rs []string
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			rs = append(rs, r)
		}
	}
	tok, err := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, time.Now(), auth.DevToken{
		Subject: *sub, Personal: *personal && !*work, Roles: rs, Email: *email, Name: *name, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out, tok)
	return nil
}

// Banner writes the GraphiQL address and a learner and a support token, valid 24 hours, to w;
// generated says the secret was generated under DATA_DIR rather than configured.
func Banner(w io.Writer, cfg config.Config, generated bool) {
	now := time.Now()
	learnerTok, err1 := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, now,
		auth.DevToken{Subject: "dev-learner", Personal: true, Email: "learner@example.com", Name: "Dev Learner", TTL: 24 * time.Hour})
	supportTok, err2 := auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, now,
		auth.DevToken{Subject: "dev-support", Roles: []string{auth.RoleSupport}, Name: "Dev Support", TTL: 24 * time.Hour})
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintln(w, "could not mint development tokens:", err)
		return
	}
	where := "AUTH_HS256_SECRET"
	if generated {
		where = filepath.Join(cfg.DataDir, "dev-hs256-secret")
	}
	fmt.Fprintf(w, "\nGraphiQL: http://%s/   (development tokens, signed with %s, valid 24h)\n", cfg.ListenAddr, where)
	fmt.Fprintf(w, "  learner: Authorization: Bearer %s\n", learnerTok)
	fmt.Fprintf(w, "  support: Authorization: Bearer %s\n\n", supportTok)
}
