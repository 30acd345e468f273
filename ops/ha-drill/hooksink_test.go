package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// The webhook sink answers every POST 2xx and counts it by webhook-id: a retry of the same
// delivery counts as received twice, a GET is refused and not counted.
func TestHookSinkCountsPostsByWebhookID(t *testing.T) {
	h, err := startHookSink()
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if !strings.HasPrefix(h.url(), "http://127.0.0.1:") {
		t.Fatalf("url %q is not plain http on loopback", h.url())
	}
	send := func(method, id string) int {
		t.Helper()
		req, err := http.NewRequest(method, h.url(), strings.NewReader(`{"type":"CERTIFICATION_EARNED"}`))
		if err != nil {
			t.Fatal(err)
		}
		if id != "" {
			req.Header.Set("webhook-id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, id := range []string{"msg_a", "msg_b", "msg_a", "msg_c", "msg_c", "msg_c", ""} {
		if st := send(http.MethodPost, id); st < 200 || st > 299 {
			t.Fatalf("POST %q answered %d, want 2xx", id, st)
		}
	}
	if st := send(http.MethodGet, "msg_d"); st != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d, want 405", st)
	}
	distinct, twice, keys := h.counts()
	if distinct != 4 || twice != 2 || !reflect.DeepEqual(keys, []string{"msg_a", "msg_c"}) {
		t.Fatalf("counts = %d distinct, %d twice %v; want 4 (a, b, c and the one without an id), 2 [msg_a msg_c]", distinct, twice, keys)
	}
	if got := h.webhookIDs(); !reflect.DeepEqual(got, map[string]bool{"msg_a": true, "msg_b": true, "msg_c": true}) {
		t.Fatalf("webhookIDs = %v, want a, b and c", got)
	}
}
