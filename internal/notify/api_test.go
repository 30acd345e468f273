package notify_test

import (
	"testing"
	"time"

	"github.com/recert/recert/graph/app/apitest"
)

const notificationsQuery = `query($mcid: String!, $first: Int, $after: String) {
  certificationProfile(mcid: $mcid) {
    notifications(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor node { id } }
      nodes { id kind sequence email scheduledFor sentAt earnedCertification { id earnedOn expiresOn certification { code } } }
    }
  }
}`

type notificationNode struct {
	ID                  string
	Kind                string
	Sequence            int
	Email               string
	ScheduledFor        time.Time
	SentAt              *time.Time
	EarnedCertification struct {
		ID, EarnedOn, ExpiresOn string
		Certification           struct{ Code string }
	}
}

type notificationsPage struct {
	CertificationProfile *struct {
		Notifications struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage bool
				EndCursor   *string
			}
			Nodes []notificationNode
		}
	}
}

// CertificationProfile.notifications lists a profile's reminders, newest first, for its owner
// and support; node(id) gives one back to them and nothing to anyone else.
func TestNotificationsThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	prof, mcid := f.profile("owner", "en")
	f.earn(prof, admin, "2021-03-01")
	f.at("2021-09-01")
	f.pass()
	f.at("2021-12-01")
	f.pass()
	f.mail.setFailing(true)
	f.at("2022-01-30")
	f.pass() // reminder 3 queued, not delivered yet: listed with no sentAt

	owner, support, stranger := apitest.Learner("owner"), apitest.Support("agent"), apitest.Learner("stranger")
	var page notificationsPage
	f.env.MustDo(owner, notificationsQuery, map[string]any{"mcid": mcid}, &page)
	if page.CertificationProfile == nil {
		t.Fatal("got no profile, want the owner's")
	}
	got := page.CertificationProfile.Notifications
	if got.TotalCount != 3 || len(got.Nodes) != 3 || got.PageInfo.HasNextPage {
		t.Fatalf("got total %d, %d nodes, more %v; want 3, 3, false", got.TotalCount, len(got.Nodes), got.PageInfo.HasNextPage)
	}
	wantSeq := []int{3, 2, 1}
	wantKind := []string{"RENEWAL_REMINDER", "RENEWAL_REMINDER", "RENEWAL_WINDOW_OPEN"}
	wantDue := []string{"2022-01-30", "2021-12-01", "2021-09-01"}
	for i, n := range got.Nodes {
		if n.Sequence != wantSeq[i] || n.Kind != wantKind[i] || n.Email != "owner@example.com" ||
			n.ScheduledFor.Format(time.DateOnly) != wantDue[i] || n.EarnedCertification.ExpiresOn != "2022-03-01" ||
			n.EarnedCertification.EarnedOn != "2021-03-01" || n.EarnedCertification.Certification.Code != admin ||
			n.EarnedCertification.ID == "" {
			t.Errorf("node %d: got %+v, want sequence %d %s due %s for the certification expiring 2022-03-01", i, n, wantSeq[i], wantKind[i], wantDue[i])
		}
		sent := i > 0
		if (n.SentAt != nil) != sent {
			t.Errorf("node %d: got sentAt %v, want sent=%v", i, n.SentAt, sent)
		}
	}
	if got.Nodes[2].SentAt == nil || !got.Nodes[2].SentAt.Equal(time.Date(2021, 9, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("got sentAt %v, want 2021-09-01T09:00:00Z", got.Nodes[2].SentAt)
	}

	// Pages of 2 then 1, following the cursor.
	var p1, p2 notificationsPage
	f.env.MustDo(owner, notificationsQuery, map[string]any{"mcid": mcid, "first": 2}, &p1)
	c1 := p1.CertificationProfile.Notifications
	if len(c1.Nodes) != 2 || !c1.PageInfo.HasNextPage || c1.PageInfo.EndCursor == nil {
		t.Fatalf("first page: got %d nodes, more %v; want 2 and more", len(c1.Nodes), c1.PageInfo.HasNextPage)
	}
	f.env.MustDo(owner, notificationsQuery, map[string]any{"mcid": mcid, "first": 2, "after": *c1.PageInfo.EndCursor}, &p2)
	c2 := p2.CertificationProfile.Notifications
	if len(c2.Nodes) != 1 || c2.PageInfo.HasNextPage || c2.Nodes[0].Sequence != 1 {
		t.Fatalf("second page: got %+v, want only reminder 1 and no more", c2)
	}
	f.env.MustFail(owner, notificationsQuery, map[string]any{"mcid": mcid, "first": 101}, "BAD_USER_INPUT")
	f.env.MustFail(owner, notificationsQuery, map[string]any{"mcid": mcid, "after": "bm90IGEgY3Vyc29y"}, "BAD_USER_INPUT")

	// Support sees the same list.
	var sp notificationsPage
	f.env.MustDo(support, notificationsQuery, map[string]any{"mcid": mcid}, &sp)
	if sp.CertificationProfile == nil || sp.CertificationProfile.Notifications.TotalCount != 3 {
		t.Fatalf("support: got %+v, want the 3 notifications", sp.CertificationProfile)
	}
	// Someone else reaches neither the profile nor its notifications.
	var other notificationsPage
	f.env.MustDo(stranger, notificationsQuery, map[string]any{"mcid": mcid}, &other)
	if other.CertificationProfile != nil {
		t.Fatalf("stranger: got %+v, want no profile", other.CertificationProfile)
	}

	// node(id)
	const nodeQuery = `query($id: ID!) { node(id: $id) { id ... on Notification { sequence kind email } } }`
	id := got.Nodes[0].ID
	for _, who := range []apitest.Identity{owner, support} {
		var out struct {
			Node *struct {
				ID       string
				Sequence int
				Kind     string
			}
		}
		f.env.MustDo(who, nodeQuery, map[string]any{"id": id}, &out)
		if out.Node == nil || out.Node.ID != id || out.Node.Sequence != 3 || out.Node.Kind != "RENEWAL_REMINDER" {
			t.Fatalf("%s: got %+v, want reminder 3", who.Subject, out.Node)
		}
	}
	for _, who := range []apitest.Identity{stranger, apitest.Anonymous} {
		var none struct{ Node *struct{ ID string } }
		f.env.MustDo(who, nodeQuery, map[string]any{"id": id}, &none)
		if none.Node != nil {
			t.Fatalf("%q: got %+v, want null", who.Subject, none.Node)
		}
	}
}
