package main

import (
	"bytes"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// sink is a tiny SMTP server that accepts every message and counts deliveries per reminder:
// by Message-ID, which Recert derives from the notification's id (the same on a resend), or
// by recipient and subject when a message has none.
type sink struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	seen map[string]int
}

func startSink() (*sink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{ln: ln, seen: map[string]int{}}
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

// counts returns the distinct reminders received, how many of them came more than once, and
// the keys of up to 5 of those.
func (s *sink) counts() (distinct, twice int, keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.seen {
		distinct++
		if n > 1 {
			twice++
			if len(keys) < 5 {
				keys = append(keys, k)
			}
		}
	}
	return distinct, twice, keys
}

// reminderIDs returns the ids of the reminders received, read from their Message-IDs
// (<reminder-ID@host>, internal/notify/mailer).
func (s *sink) reminderIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.seen))
	for k := range s.seen {
		if id, ok := reminderID(k); ok {
			out[id] = true
		}
	}
	return out
}

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
	s.mu.Lock()
	s.seen[key]++
	s.mu.Unlock()
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
