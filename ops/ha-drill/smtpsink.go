package main

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a tiny SMTP server that accepts every message and counts deliveries per reminder:
// by Message-ID, which Recert derives from the notification's id (the same on a resend), or
// by recipient and subject when a message has none.
type sink struct {
	*tally
	srv *smtp.Server
	ln  net.Listener
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, tally: newTally()}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// url is SMTP_URL for Recert: plain SMTP on loopback, no STARTTLS.
func (s *sink) url() string { return "smtp://" + s.ln.Addr().String() + "?starttls=none&timeout=10s" }

func (s *sink) close() { _ = s.srv.Close() }

// reminderIDs returns the ids of the reminders received, read from their Message-IDs
// (<reminder-ID@host>, internal/notify/mailer).
func (s *sink) reminderIDs() map[string]bool { return s.keys(reminderID) }

// reminderID is the notification id in a reminder's Message-ID.
func reminderID(messageID string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.Trim(messageID, "<>"), "reminder-")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "@")
	return id, ok && id != ""
}

func (s *sink) record(to []string, data []byte) {
	key := ""
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		key = strings.TrimSpace(m.Header.Get("Message-Id"))
		if key == "" {
			key = strings.Join(to, ",") + "|" + m.Header.Get("Subject")
		}
	} else {
		key = strings.Join(to, ",") + "|unparsed|" + string(data[:min(len(data), 200)])
	}
	s.add(key)
}

// NewSession makes the sink an smtp.Backend.
func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s  *sink
	to []string
}

func (se *sinkSession) Mail(string, *smtp.MailOptions) error { se.to = nil; return nil }
func (se *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}
func (se *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.record(se.to, b)
	return nil
}
func (se *sinkSession) Reset()        { se.to = nil }
func (se *sinkSession) Logout() error { return nil }
