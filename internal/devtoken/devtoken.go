// Package devtoken mints development tokens, signed with the configured HS256 secret: the
// `token` command, and the two tokens the server prints at start outside production.
package devtoken

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/cli"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/database"
)

// Command is `recert token --sub SUB ...`: it prints one development token to stdout.
func Command(args []string, stdout, stderr io.Writer, load database.LoadEnv) error {
	fs := cli.FlagSet("token", "--sub SUB [flags]", `Prints a development token signed with the configured HS256 secret (AUTH_HS256_SECRET, or
the secret generated under DATA_DIR outside production).`)
	sub := fs.String("sub", "", "subject (required)")
	personal := fs.Bool("personal", true, "personal Microsoft account (tid = consumer tenant)")
	work := fs.Bool("work", false, "work or school account")
	tenant := fs.String("tenant", "", "tid of a work or school account (default: the development tenant)")
	roles := fs.String("roles", "", "comma-separated roles: support, exam-delivery, admin, team-manager")
	email := fs.String("email", "", "email claim")
	name := fs.String("name", "", "name claim")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	if _, err := cli.ParseCommand(fs, args, 0, stdout, stderr); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	env, err := load()
	if err != nil {
		return err
	}
	cfg := env.Config
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
		Subject: *sub, Personal: *personal && !*work && *tenant == "", TenantID: *tenant, Roles: rs, Email: *email, Name: *name, TTL: *ttl,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// Banner writes the GraphiQL address and a learner and a support token, valid 24 hours, to w;
// generated says the secret was generated under DATA_DIR rather than configured.
func Banner(w io.Writer, cfg config.Config, generated bool) {
	now := time.Now()
	learnerTok, err1 := Learner(cfg, now)
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

// Learner mints the development learner's token (the one Banner prints), valid 24 hours from
// now: GraphiQL outside production starts with it in its headers.
func Learner(cfg config.Config, now time.Time) (string, error) {
	return auth.MintDev(cfg.HS256Secret, cfg.Issuer, cfg.Audience, now,
		auth.DevToken{Subject: "dev-learner", Personal: true, Email: "learner@example.com", Name: "Dev Learner", TTL: 24 * time.Hour})
}
