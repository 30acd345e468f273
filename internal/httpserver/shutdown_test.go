package httpserver_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// slowBody sends a request body in two parts, the second only once release is closed,
// keeping the request in flight for as long as the test needs.
type slowBody struct {
	parts   []string
	release <-chan struct{}
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	if len(s.parts) == 1 {
		<-s.release
	}
	n := copy(p, s.parts[0])
	s.parts = s.parts[1:]
	return n, nil
}

// closeNotifyingListener reports when the server closes it (Shutdown's first step).
type closeNotifyingListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeNotifyingListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// TestGracefulShutdownDrains stops a real listener while a request is in flight: /readyz fails
// at once, the in-flight request still completes, and then the server stops accepting. Each
// step waits for the event it needs (the request reaching the handler, the listener closing),
// not for time to pass.
func TestGracefulShutdownDrains(t *testing.T) {
	env := apitest.New(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &closeNotifyingListener{Listener: inner, closed: make(chan struct{})}
	base := "http://" + ln.Addr().String()
	arrived := make(chan struct{})
	var once sync.Once
	h := env.Server.Handler()
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/graphql" {
			once.Do(func() { close(arrived) })
		}
		h.ServeHTTP(w, r)
	})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	// The drain delay is the window in which /readyz answers 503 on a listener that still
	// accepts: long enough for the probe below on a busy machine.
	go func() { served <- env.Server.Serve(ctx, hs, ln, 3*time.Second, time.Minute) }()

	if r, err := http.Get(base + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("readyz before: %v %v", r, err)
	}
	release := make(chan struct{})
	inflight := make(chan *http.Response, 1)
	go func() {
		body := &slowBody{parts: []string{`{"query":"{ certifications(first: 1) `, `{ totalCount } }"}`}, release: release}
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", body)
		req.Header.Set("Content-Type", "application/json")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("in-flight request: %v", err)
		}
		inflight <- r
	}()
	<-arrived // the request is in the handler, its body not complete
	cancel()  // SIGTERM
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("readyz while draining: %v, want 503 from a listener that still accepts", err)
		}
		r.Body.Close()
		if r.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz while draining: got %d, want 503", r.StatusCode)
		}
		time.Sleep(5 * time.Millisecond) // polling for a condition, not waiting for time to pass
	}
	select {
	case <-ln.closed: // Shutdown started: from here it waits for the request in flight
	case <-time.After(time.Minute):
		t.Fatal("the listener was not closed after the drain delay")
	}
	close(release)
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
