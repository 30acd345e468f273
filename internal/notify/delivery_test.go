package notify

import (
	"testing"
	"time"
)

// TestDeliveryStatus derives Notification.deliveryStatus from the outbox columns.
func TestDeliveryStatus(t *testing.T) {
	now := time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)
	bounced := "smtp: 550 mailbox unavailable"
	reason := CancelRenewed
	cases := []struct {
		name string
		n    Notification
		want DeliveryStatus
	}{
		{name: "queued, never tried", n: Notification{}, want: DeliveryPending},
		{name: "the last try bounced", n: Notification{Attempts: 1, LastError: &bounced}, want: DeliveryFailed},
		{name: "sent after a bounce", n: Notification{Attempts: 2, LastError: &bounced, SentAt: &now}, want: DeliverySent},
		{name: "sent", n: Notification{Attempts: 1, SentAt: &now}, want: DeliverySent},
		{name: "cancelled after a bounce", n: Notification{Attempts: 1, LastError: &bounced, CancelledAt: &now, CancelReason: &reason},
			want: DeliveryCancelled},
	}
	for _, c := range cases {
		if got := c.n.DeliveryStatus(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}
