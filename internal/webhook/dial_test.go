package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/internal/apperr"
)

func TestCheckURL(t *testing.T) {
	cases := []struct {
		url        string
		production bool
		ok         bool
	}{
		{"https://hooks.example.com/recert", true, true},
		{"https://hooks.example.com:8443/x?y=1", true, true},
		{"http://hooks.example.com/recert", true, false},          // plain http
		{"http://localhost:8080/hook", true, false},               // plain http, even to loopback
		{"http://localhost:8080/hook", false, true},               // development: loopback over http
		{"http://127.0.0.1:8080/hook", false, true},               //
		{"http://[::1]:8080/hook", false, true},                   //
		{"http://hooks.example.com/recert", false, false},         // development: http only to loopback
		{"https://127.0.0.1/hook", true, false},                   // loopback literal
		{"https://localhost/hook", true, false},                   // loopback name
		{"https://10.1.2.3/hook", true, false},                    // private
		{"https://192.168.0.10/hook", true, false},                //
		{"https://169.254.169.254/latest/meta-data", true, false}, // link-local (cloud metadata)
		{"https://[fe80::1]/hook", true, false},                   // link-local IPv6
		{"https://[::ffff:127.0.0.1]/hook", true, false},          // IPv4-mapped loopback
		{"https://100.64.0.1/hook", true, false},                  // carrier-grade NAT
		{"https://user:pw@hooks.example.com/", true, false},       // credentials in the URL
		{"ftp://hooks.example.com/", false, false},
		{"hooks.example.com/recert", false, false},
		{"", false, false},
	}
	for _, c := range cases {
		_, err := CheckURL(c.url, c.production)
		if (err == nil) != c.ok {
			t.Errorf("CheckURL(%q, production=%v): got %v, want ok=%v", c.url, c.production, err, c.ok)
		}
		if err != nil && apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("CheckURL(%q): got code %s, want BAD_USER_INPUT", c.url, apperr.CodeOf(err))
		}
	}
}

func TestPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1::1": true,
		"127.0.0.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false,
		"169.254.169.254": false, "fe80::1": false, "fc00::1": false, "0.0.0.0": false, "::": false,
		"::ffff:10.0.0.1": false, "224.0.0.1": false, "100.64.1.1": false, "64:ff9b::a00:1": false,
	} {
		if got := Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s): got %v, want %v", s, got, want)
		}
	}
}

// In production, a name that resolves to loopback is refused when the connection is made
// (after DNS resolution), so neither a name nor DNS rebinding reaches inside.
func TestProductionClientRefusesLoopbackAfterResolution(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("the production client reached a loopback server")
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, target := range []string{"https://localhost:" + port + "/", srv.URL + "/"} {
		_, err := post(context.Background(), NewClient(true), target, http.Header{}, []byte(`{}`))
		if !errors.Is(err, ErrForbiddenAddress) {
			t.Errorf("POST %s: got %v, want ErrForbiddenAddress", target, err)
		}
	}
}

// A redirect is not followed: it is a failed attempt with its status.
func TestRedirectsAreNotFollowed(t *testing.T) {
	var reached bool
	inner := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	defer inner.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	status, err := post(context.Background(), NewClient(false), srv.URL, http.Header{}, []byte(`{}`))
	if err == nil || status != http.StatusTemporaryRedirect || reached {
		t.Fatalf("got status %d, %v, reached %v; want 307, an error, and the target not reached", status, err, reached)
	}
}

// A slow endpoint does not hold the sender longer than the context allows, and a huge
// response body is read only up to MaxResponseBody.
func TestResponseBodyIsCapped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := []byte(strings.Repeat("x", 1<<10))
		for i := 0; i < 1<<14 && r.Context().Err() == nil; i++ { // up to 16 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	status, err := post(ctx, NewClient(false), srv.URL, http.Header{}, []byte(`{}`))
	if err != nil || status != http.StatusOK {
		t.Fatalf("got %d, %v; want 200", status, err)
	}
}

// A known answer: the example of the Standard Webhooks libraries' tests.
func TestSignKnownAnswer(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// During a rotation the header carries one signature per secret, the current one first.
func TestSignatureHeaderHasOneSignaturePerSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	h, err := SignatureHeader([]string{a, b}, "msg_1", time.Unix(1700000000, 0), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Fields(h)
	sa, _ := Sign(a, "msg_1", time.Unix(1700000000, 0), []byte(`{"a":1}`))
	sb, _ := Sign(b, "msg_1", time.Unix(1700000000, 0), []byte(`{"a":1}`))
	if len(parts) != 2 || parts[0] != sa || parts[1] != sb || sa == sb || !strings.HasPrefix(sa, "v1,") {
		t.Fatalf("got %q, want %q then %q", h, sa, sb)
	}
}

func TestBackoffGrowsWithJitterAndStaysBounded(t *testing.T) {
	prev := time.Duration(0)
	for n := 1; n <= 20; n++ {
		d := Backoff(n)
		base := 30 * time.Second << min(n-1, 10)
		base = min(base, 6*time.Hour)
		if d < base*8/10 || d > base*12/10 {
			t.Fatalf("Backoff(%d) = %s, want within 20%% of %s", n, d, base)
		}
		if n <= 5 && d <= prev/2 {
			t.Fatalf("Backoff(%d) = %s does not grow from %s", n, d, prev)
		}
		prev = d
	}
}
