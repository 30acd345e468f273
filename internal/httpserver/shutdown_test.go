package httpserver_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recert/recert/internal/apitest"
)

// slowBody sends a request body in two parts with a pause, keeping the request in flight.
type slowBody struct {
	parts []string
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	if len(s.parts) == 1 {
		time.Sleep(s.pause)
	}
	n := copy(p, s.parts[0])
	s.parts = s.parts[1:]
	return n, nil
}

// TestGracefulShutdownDrains stops a real listener while a request is in flight: /readyz fails
// at once, the in-flight request still completes, and then the server stops accepting.
func TestGracefulShutdownDrains(t *testing.T) {
	env := apitest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	hs := &http.Server{Handler: env.Server.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- env.Server.Serve(ctx, hs, ln, 300*time.Millisecond, 10*time.Second) }()

	if r, err := http.Get(base + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("readyz before: %v %v", r, err)
	}
	inflight := make(chan *http.Response, 1)
	go func() {
		body := &slowBody{parts: []string{`{"query":"{ certifications(first: 1) `, `{ totalCount } }"}`}, pause: 600 * time.Millisecond}
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight request: %v", err)
		}
		inflight <- r
	}()
	time.Sleep(100 * time.Millisecond)
	cancel() // SIGTERM
	time.Sleep(100 * time.Millisecond)
	r, err := http.Get(base + "/readyz")
	if err != nil || r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: got %v %v, want 503", r, err)
	}
	got := <-inflight
	if got == nil || got.StatusCode != 200 {
		t.Fatalf("in-flight request: got %v, want 200", got)
	}
	b, _ := io.ReadAll(got.Body)
	if !strings.Contains(string(b), `"totalCount":23`) {
		t.Fatalf("in-flight request: got %s", b)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}
