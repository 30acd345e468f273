// Package smtptest runs an in-process SMTP server (github.com/emersion/go-smtp) for tests:
// STARTTLS with a throwaway certificate, PLAIN authentication, every accepted message recorded,
// and a switch that makes it refuse messages with a temporary error.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"

	"io"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The credentials the server accepts.
const (
	Username = "recert"
	Password = "s3cret p@ss"
)

// Mail is one message the server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was upgraded with STARTTLS
	User string // the authenticated user
}

// Server is a running test SMTP server.
type Server struct {
	// ClientTLS trusts the server's certificate; give it to the mailer.
	ClientTLS *tls.Config

	addr string
	srv  *smtp.Server

	mu    sync.Mutex
	mails []Mail
	fail  *smtp.SMTPError
	tries int
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &Server{ClientTLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.addr = l.Addr().String()
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// URL is the SMTP_URL of the server: STARTTLS required, with the accepted credentials.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", User: url.UserPassword(Username, Password), Host: s.addr,
		RawQuery: "starttls=mandatory&timeout=10s"}
	return u.String()
}

// Mails returns the messages accepted so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Tries counts the messages the server was offered (accepted or refused).
func (s *Server) Tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tries
}

// Fail makes the server refuse every message with a temporary error until Recover.
func (s *Server) Fail() {
	s.mu.Lock()
	s.fail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "mail system busy, try again later"}
	s.mu.Unlock()
}

// Recover makes the server accept messages again.
func (s *Server) Recover() {
	s.mu.Lock()
	s.fail = nil
	s.mu.Unlock()
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: b.s, conn: c}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	m    Mail
}

func (se *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != Username || password != Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		se.user = username
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.user == "" {
		return smtp.ErrAuthRequired
	}
	_, tlsOn := se.conn.TLSConnectionState()
	se.m = Mail{From: from, TLS: tlsOn, User: se.user}
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.m.To = append(se.m.To, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	se.s.mu.Lock()
	defer se.s.mu.Unlock()
	se.s.tries++
	if se.s.fail != nil {
		return se.s.fail
	}
	se.m.Data = data
	se.s.mails = append(se.s.mails, se.m)
	return nil
}

func (se *session) Reset()        { se.m = Mail{} }
func (se *session) Logout() error { return nil }

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtptest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smtptest"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true,

		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtptest: certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtptest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Decoded is a received message with its subject and text body decoded.
type Decoded struct {
	Header  mail.Header
	Subject string
	Body    string
}

// Decode parses a received message: RFC 2047 subject, quoted-printable or base64 body.
func Decode(t testing.TB, data []byte) Decoded {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("smtptest: parse message: %v\n%s", err, data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("smtptest: decode subject: %v", err)
	}
	var body io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("smtptest: decode body: %v", err)
	}
	return Decoded{Header: msg.Header, Subject: subject, Body: string(b)}
}
