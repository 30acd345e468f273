package main

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestClassifyRetriesWhatAFailoverAnswers(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		err    error
		ok     bool
		retry  bool
		code   string
	}{
		{"success", 200, `{"data":{"recordExamResult":{"examResult":{"id":"x"}}}}`, nil, true, false, ""},
		{"today's INTERNAL", 200, `{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}],"data":null}`, nil, false, true, "INTERNAL"},
		{"issue 15's UNAVAILABLE", 503, `{"errors":[{"message":"try again","extensions":{"code":"UNAVAILABLE"}}]}`, nil, false, true, "UNAVAILABLE"},
		{"a proxy's 502", 502, `<html>bad gateway</html>`, nil, false, true, "HTTP 502"},
		{"refused", 0, ``, errors.New("connection refused"), false, true, "CONNECTION"},
		{"a final answer", 200, `{"errors":[{"message":"busy","extensions":{"code":"ATTEMPT_IN_PROGRESS"}}],"data":null}`, nil, false, false, "ATTEMPT_IN_PROGRESS"},
		{"a 500 with a domain code", 500, `{"errors":[{"message":"x","extensions":{"code":"NOT_FOUND"}}]}`, nil, false, true, "NOT_FOUND"},
		{"null data", 200, `{"data":null}`, nil, false, true, "HTTP 200"},
	} {
		a := classify(c.status, []byte(c.body), c.err)
		if a.OK != c.ok || a.Retry != c.retry || a.Code != c.code {
			t.Errorf("%s: got ok=%v retry=%v code=%q, want ok=%v retry=%v code=%q", c.name, a.OK, a.Retry, a.Code, c.ok, c.retry, c.code)
		}
	}
}

func TestNodeIDRoundTrip(t *testing.T) {
	id := uuid.MustParse("0b6f1c2e-4a5b-4c3d-8e9f-0a1b2c3d4e5f")
	got, err := rawID(nodeID("AssessmentAttempt", id))
	if err != nil || got != id {
		t.Fatalf("rawID(nodeID) = %v, %v", got, err)
	}
	if got, err := rawID(id.String()); err != nil || got != id {
		t.Fatalf("rawID(plain uuid) = %v, %v", got, err)
	}
}

func TestBackoffGrowsToTwoSeconds(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1600, 2000, 2000}
	for i, w := range want {
		if got := backoff(i + 1); got != w*time.Millisecond {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
}
