// Package mailer delivers notify.Message emails: over SMTP with github.com/wneessen/go-mail
// (a maintained client with STARTTLS, implicit TLS, SMTP AUTH and context-aware sending), or,
// in development with no SMTP server configured, to the log.
package mailer

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/recert/recert/internal/notify"
)

// SMTP sends emails through an SMTP server, one connection per message (the reminders are
// few and spread out; a fresh connection per message keeps failures independent).
type SMTP struct {
	client *gomail.Client
	from   string
	domain string // for Message-IDs
}

// Option adjusts an SMTP mailer.
type Option func(*options)

type options struct {
	tls *tls.Config
}

// WithTLSConfig sets the TLS configuration (e.g. a private CA's RootCAs); ServerName defaults
// to the URL's host.
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// NewSMTP returns a mailer for SMTP_URL rawURL sending as from (SMTP_FROM, an address such as
// `Recert <no-reply@recert.example>`).
//
// The URL:
//
//	smtp://[user[:password]@]host[:port][?starttls=mandatory|opportunistic|none][&auth=MECH][&timeout=15s]
//	smtps://[user[:password]@]host[:port][?auth=MECH][&timeout=15s]
//
// smtp:// connects in plain text and upgrades with STARTTLS: `mandatory` (the default) refuses
// a server without it, `opportunistic` uses it when offered, `none` never does (only for a
// relay on the same host). The default port is 587. smtps:// speaks TLS from the start, port
// 465 by default. With a user name, the mailer authenticates: auth=auto (the default) picks the
// strongest mechanism the server offers (PLAIN and LOGIN only over TLS); plain, login,
// cram-md5, scram-sha-1, scram-sha-256 and xoauth2 force one. Percent-encode special
// characters of the user and password. timeout bounds connecting and each SMTP command.
func NewSMTP(rawURL, from string, opts ...Option) (*SMTP, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("SMTP_URL: not a URL (want smtp://user:pass@host:587)")
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("SMTP_FROM: want an address such as \"Recert <no-reply@example.com>\": %w", err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("SMTP_URL: no host")
	}
	q := u.Query()
	var copts []gomail.Option
	port := 587
	switch u.Scheme {
	case "smtp":
		policy := gomail.TLSMandatory
		switch q.Get("starttls") {
		case "", "mandatory":
		case "opportunistic":
			policy = gomail.TLSOpportunistic
		case "none":
			policy = gomail.NoTLS
		default:
			return nil, fmt.Errorf("SMTP_URL: starttls=%q: want mandatory, opportunistic or none", q.Get("starttls"))
		}
		copts = append(copts, gomail.WithTLSPolicy(policy))
	case "smtps":
		port = 465
		copts = append(copts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP_URL: scheme %q: want smtp or smtps", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("SMTP_URL: port %q is not a number", p)
		}
	}
	copts = append(copts, gomail.WithPort(port))
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("SMTP_URL: timeout=%q: want a Go duration such as 15s", t)
		}
		copts = append(copts, gomail.WithTimeout(d))
	}
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		mech := gomail.SMTPAuthAutoDiscover
		if a := q.Get("auth"); a != "" {
			if err := mech.UnmarshalString(a); err != nil || mech == gomail.SMTPAuthNoAuth || mech == gomail.SMTPAuthCustom {
				return nil, fmt.Errorf("SMTP_URL: auth=%q: want auto, plain, login, cram-md5, scram-sha-1, scram-sha-256 or xoauth2", a)
			}
		}
		copts = append(copts, gomail.WithSMTPAuth(mech), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	if o.tls != nil {
		c := o.tls.Clone()
		if c.ServerName == "" {
			c.ServerName = host
		}
		copts = append(copts, gomail.WithTLSConfig(c))
	}
	client, err := gomail.NewClient(host, copts...)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	domain := addr.Address[strings.LastIndex(addr.Address, "@")+1:]
	return &SMTP{client: client, from: addr.String(), domain: domain}, nil
}

// Send delivers m. The Message-ID is derived from m.ID, so a retry of the same notification
// carries the same one.
func (s *SMTP) Send(ctx context.Context, m notify.Message) error {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue("reminder-" + m.ID + "@" + s.domain)
	msg.SetDate()
	if m.Language != "" {
		msg.SetGenHeader(gomail.HeaderContentLang, m.Language)
	}
	// Automatic mail: no out-of-office replies (RFC 3834).
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("attach %s: %w", a.Name, err)
		}
	}
	if err := s.client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}

// Log is the development mailer: it writes each email to the log instead of sending it.
type Log struct {
	Log *slog.Logger
}

// Send logs m.
func (l Log) Send(ctx context.Context, m notify.Message) error {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	names := make([]string, len(m.Attachments))
	for i, a := range m.Attachments {
		names[i] = a.Name
	}
	log.InfoContext(ctx, "email (not sent: SMTP_URL is not set)",
		"to", m.To, "subject", m.Subject, "language", m.Language, "message_id", m.ID, "attachments", names, "body", m.Text)
	return nil
}
