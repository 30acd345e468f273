package renewal_test

import (
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

// A passed renewal writes CERTIFICATION_RENEWED with the new expiry, in its transaction; a
// failed one writes nothing.
func TestPassedRenewalIsAWebhookEvent(t *testing.T) {
	env := apitest.New(t) // 2021-03-01T09:00Z
	h := newHolder(t, env, "webhook-renew")
	h.link(t, env)
	e := h.earn(t, env, "azure-administrator-associate", "2020-06-15", "")
	renewed := func() (n int, expires string) {
		t.Helper()
		if err := env.DB.QueryRow(`SELECT count(*), coalesce(max(data->>'expiresOn'), '') FROM webhook_events
WHERE type = 'CERTIFICATION_RENEWED'`).Scan(&n, &expires); err != nil {
			t.Fatal(err)
		}
		return n, expires
	}
	a1 := start(t, env, h.who, e, "en")
	submit(t, env, h.who, a1.ID, answers(t, env, a1, 2)) // fails
	if n, _ := renewed(); n != 0 {
		t.Fatalf("after a failed attempt: got %d CERTIFICATION_RENEWED events, want 0", n)
	}
	env.Clock.Advance(25 * time.Hour) // past the retake wait
	a2 := start(t, env, h.who, e, "en")
	submit(t, env, h.who, a2.ID, answers(t, env, a2, 6)) // passes
	if n, exp := renewed(); n != 1 || exp != "2022-06-15" {
		t.Fatalf("after a pass: got %d events expiring %q, want 1 with expiresOn 2022-06-15", n, exp)
	}
}
