package mailer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/notify/mailer"
	"github.com/recert/recert/internal/notify/smtptest"
)

func TestSMTPDeliversOverSTARTTLSWithAuth(t *testing.T) {
	srv := smtptest.Start(t)
	m, err := mailer.NewSMTP(srv.URL(), "Recert <no-reply@recert.example>", mailer.WithTLSConfig(srv.ClientTLS))
	if err != nil {
		t.Fatal(err)
	}
	msg := notify.Message{ID: "0b0e3c44-2a39-4e59-9d4e-1f1e1d2c3b4a", To: "hanako@example.jp",
		Subject: "【リマインダー】Azure を 2022年3月1日 までに更新してください", Text: "山田 花子 様\n\n有効期限は 2022年3月1日 です。\n", Language: "ja"}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("got %d messages, want 1", len(mails))
	}
	got := mails[0]
	if !got.TLS || got.User != smtptest.Username {
		t.Fatalf("got TLS %v user %q, want a STARTTLS session authenticated as %s", got.TLS, got.User, smtptest.Username)
	}
	if got.From != "no-reply@recert.example" || len(got.To) != 1 || got.To[0] != "hanako@example.jp" {
		t.Fatalf("got envelope %s -> %v, want no-reply@recert.example -> [hanako@example.jp]", got.From, got.To)
	}
	d := smtptest.Decode(t, got.Data)
	if d.Subject != msg.Subject {
		t.Fatalf("got subject %q, want %q", d.Subject, msg.Subject)
	}
	if strings.TrimSpace(strings.ReplaceAll(d.Body, "\r\n", "\n")) != strings.TrimSpace(msg.Text) {
		t.Fatalf("got body %q, want %q", d.Body, msg.Text)
	}
	for k, want := range map[string]string{
		"Message-Id":       "<reminder-" + msg.ID + "@recert.example>",
		"Content-Language": "ja",
		"Auto-Submitted":   "auto-generated",
		"To":               "<hanako@example.jp>",
	} {
		if v := d.Header.Get(k); v != want {
			t.Errorf("header %s: got %q, want %q", k, v, want)
		}
	}
	if ct := d.Header.Get("Content-Type"); !strings.Contains(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("got Content-Type %q, want text/plain in UTF-8", ct)
	}
}

func TestSMTPTemporaryFailureIsAnError(t *testing.T) {
	srv := smtptest.Start(t)
	srv.Fail()
	m, err := mailer.NewSMTP(srv.URL(), "no-reply@recert.example", mailer.WithTLSConfig(srv.ClientTLS))
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), notify.Message{ID: "x", To: "a@example.com", Subject: "s", Text: "t"})
	if err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("got %v, want the server's 451", err)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("got %d accepted messages, want 0", n)
	}
}

func TestSMTPWrongPasswordIsAnError(t *testing.T) {
	srv := smtptest.Start(t)
	url := strings.Replace(srv.URL(), "p%40ss", "wrong", 1)
	m, err := mailer.NewSMTP(url, "no-reply@recert.example", mailer.WithTLSConfig(srv.ClientTLS))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), notify.Message{ID: "x", To: "a@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("got no error with a wrong password, want one")
	}
	if srv.Tries() != 0 {
		t.Fatalf("got %d messages offered, want 0", srv.Tries())
	}
}

func TestSMTPUntrustedCertificateIsRefused(t *testing.T) {
	srv := smtptest.Start(t)
	m, err := mailer.NewSMTP(srv.URL(), "no-reply@recert.example") // system roots: the test CA is unknown
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), notify.Message{ID: "x", To: "a@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("got no error with an untrusted certificate, want one")
	}
}

func TestNewSMTPURLs(t *testing.T) {
	good := []string{
		"smtp://mail.example.com",
		"smtp://user:p%40ss@mail.example.com:2525?starttls=opportunistic",
		"smtp://127.0.0.1:25?starttls=none",
		"smtps://user:pass@mail.example.com?auth=plain&timeout=20s",
		"smtp://user:pass@mail.example.com:587?auth=scram-sha-256",
	}
	for _, u := range good {
		if _, err := mailer.NewSMTP(u, "no-reply@example.com"); err != nil {
			t.Errorf("%s: got %v, want no error", u, err)
		}
	}
	bad := []string{
		"http://mail.example.com", "smtp://", "smtp://mail.example.com?starttls=maybe",
		"smtp://mail.example.com:port", "smtp://u:p@mail.example.com?auth=magic", "smtp://mail.example.com?timeout=soon",
		"://nope",
	}
	for _, u := range bad {
		if _, err := mailer.NewSMTP(u, "no-reply@example.com"); err == nil {
			t.Errorf("%s: got no error, want one", u)
		}
	}
	if _, err := mailer.NewSMTP("smtp://mail.example.com", "not an address"); err == nil {
		t.Error("SMTP_FROM not an address: got no error, want one")
	}
}
