package mailer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/notify/mailer"
	"github.com/recert/recert/internal/notify/smtptest"
)

// An attachment goes out as a MIME part of its own with its file name and content type, next
// to the text.
func TestSMTPSendsAttachments(t *testing.T) {
	srv := smtptest.Start(t)
	m, err := mailer.NewSMTP(srv.URL(), "Recert <no-reply@recert.example>", mailer.WithTLSConfig(srv.ClientTLS))
	if err != nil {
		t.Fatal(err)
	}
	ics := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n")
	msg := notify.Message{ID: "6f1c1f9e-0000-4000-8000-000000000001", To: "ada@example.com", Subject: "Renew", Text: "Hello\n",
		Attachments: []notify.Attachment{{Name: "renewal.ics", ContentType: "text/calendar; charset=utf-8; method=PUBLISH", Data: ics}}}
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("got %d messages, want 1", len(mails))
	}
	parsed, err := mail.ReadMessage(bytes.NewReader(mails[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(parsed.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("got Content-Type %q (%v), want multipart/mixed", parsed.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(parsed.Body, params["boundary"])
	var found bool
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FileName() != "renewal.ics" {
			continue
		}
		found = true
		ct, cp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if ct != "text/calendar" || !strings.EqualFold(cp["method"], "PUBLISH") {
			t.Errorf("got attachment Content-Type %q, want text/calendar with method=PUBLISH", p.Header.Get("Content-Type"))
		}
		raw, _ := io.ReadAll(p)
		data := raw
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			if data, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(raw)), "")); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(data, ics) {
			t.Errorf("got attachment %q, want %q", data, ics)
		}
	}
	if !found {
		t.Fatalf("no renewal.ics part in:\n%s", mails[0].Data)
	}
}
