package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// hookSink is a tiny HTTP server on loopback that plays a webhook receiver: it answers every
// POST 204 and counts deliveries per `webhook-id` header, which Recert derives from the event
// (internal/webhook Delivery.MessageID: the same on a retry of the same delivery).
type hookSink struct {
	*tally
	srv *http.Server
	ln  net.Listener
}

// noWebhookID is the key of a POST that carried no webhook-id header.
const noWebhookID = "(no webhook-id)"

func startHookSink() (*hookSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookSink{ln: ln, tally: newTally()}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

// url is the endpoint URL the drill registers: plain http to loopback, which Recert accepts
// outside production only (internal/webhook CheckURL; the drill's instances run with
// APP_ENV=development).
func (h *hookSink) url() string { return "http://" + h.ln.Addr().String() + "/webhooks" }

func (h *hookSink) close() { _ = h.srv.Close() }

// ServeHTTP records a POST by its webhook-id and answers 204; anything else is 405.
func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	id := strings.TrimSpace(r.Header.Get("webhook-id"))
	if id == "" {
		id = noWebhookID
	}
	h.add(id)
	w.WriteHeader(http.StatusNoContent)
}

// webhookIDs returns the webhook-ids received.
func (h *hookSink) webhookIDs() map[string]bool {
	return h.keys(func(k string) (string, bool) { return k, k != noWebhookID })
}
