package catalog_test

import (
	"encoding/base64"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

type pageInfo struct {
	HasNextPage, HasPreviousPage bool
	StartCursor, EndCursor       *string
}

// Issue 14, point 1: PageInfo carries startCursor and hasPreviousPage (Relay connection spec).
// The first page has nothing before it; a page fetched after a cursor does; startCursor and
// endCursor are the cursors of the page's first and last edges, and both are null on an empty
// page.
func TestPageInfoStartCursorAndHasPreviousPage(t *testing.T) {
	env := apitest.New(t)
	const q = `query($after: String, $search: String) {
	  certifications(first: 2, after: $after, filter: {search: $search}) {
	    edges { cursor node { code } }
	    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	type page struct {
		Certifications struct {
			Edges []struct {
				Cursor string
				Node   struct{ Code string }
			}
			PageInfo pageInfo
		}
	}
	fetch := func(vars map[string]any) page {
		var out page
		env.MustDo(apitest.Anonymous, q, vars, &out)
		return out
	}
	check := func(name string, p page, wantPrev bool) {
		t.Helper()
		pi, edges := p.Certifications.PageInfo, p.Certifications.Edges
		if pi.HasPreviousPage != wantPrev {
			t.Errorf("%s: hasPreviousPage = %v, want %v", name, pi.HasPreviousPage, wantPrev)
		}
		if len(edges) == 0 {
			if pi.StartCursor != nil || pi.EndCursor != nil {
				t.Errorf("%s: empty page has cursors %v %v, want null", name, pi.StartCursor, pi.EndCursor)
			}
			return
		}
		if pi.StartCursor == nil || *pi.StartCursor != edges[0].Cursor {
			t.Errorf("%s: startCursor = %v, want the first edge's cursor %q", name, pi.StartCursor, edges[0].Cursor)
		}
		if pi.EndCursor == nil || *pi.EndCursor != edges[len(edges)-1].Cursor {
			t.Errorf("%s: endCursor = %v, want the last edge's cursor", name, pi.EndCursor)
		}
	}

	first := fetch(map[string]any{})
	if len(first.Certifications.Edges) != 2 || !first.Certifications.PageInfo.HasNextPage {
		t.Fatalf("first page: %+v, want 2 edges and more to come", first.Certifications)
	}
	check("first page", first, false)

	second := fetch(map[string]any{"after": *first.Certifications.PageInfo.EndCursor})
	check("second page", second, true)
	if second.Certifications.Edges[0].Node.Code <= first.Certifications.Edges[1].Node.Code {
		t.Errorf("second page starts at %s, not after %s", second.Certifications.Edges[0].Node.Code,
			first.Certifications.Edges[1].Node.Code)
	}

	check("empty page", fetch(map[string]any{"search": "no such certification"}), false)
	check("empty page after a cursor", fetch(map[string]any{"search": "no such certification",
		"after": *first.Certifications.PageInfo.EndCursor}), true)
}

// Issue 14, point 1: Exam implements Node. Its id is opaque, distinct per exam, stable, and
// node(id) returns the exam again, to anyone (the catalog is public); an id of no exam is null.
func TestExamIsANode(t *testing.T) {
	env := apitest.New(t)
	var cert struct {
		Certification struct {
			RequirementPaths [][]struct{ ID, Code string }
		}
	}
	env.MustDo(apitest.Anonymous, `{ certification(code: "azure-administrator-associate") {
	  requirementPaths { id code } } }`, nil, &cert)
	ids := map[string]string{}
	for _, path := range cert.Certification.RequirementPaths {
		for _, e := range path {
			if e.ID == "" {
				t.Fatalf("exam %s has no id", e.Code)
			}
			ids[e.Code] = e.ID
		}
	}
	if len(ids) != 2 || ids["AZ-104"] == ids["AZ-103"] {
		t.Fatalf("exam ids %v, want two distinct ones (AZ-104, AZ-103)", ids)
	}

	const q = `query($id: ID!) { node(id: $id) { __typename id ... on Exam { code title supersedes { id code } } } }`
	var out struct {
		Node *struct {
			Typename   string `json:"__typename"`
			ID, Code   string
			Title      string
			Supersedes *struct{ ID, Code string }
		}
	}
	for _, who := range []apitest.Identity{apitest.Anonymous, apitest.Learner("ada")} {
		env.MustDo(who, q, map[string]any{"id": ids["AZ-104"]}, &out)
		n := out.Node
		if n == nil || n.Typename != "Exam" || n.ID != ids["AZ-104"] || n.Code != "AZ-104" || n.Title == "" {
			t.Fatalf("node(AZ-104's id) as %q = %+v, want the exam AZ-104", who.Subject, n)
		}
		if n.Supersedes == nil || n.Supersedes.Code != "AZ-103" || n.Supersedes.ID != ids["AZ-103"] {
			t.Errorf("AZ-104 supersedes %+v, want AZ-103 with its id", n.Supersedes)
		}
	}

	unknown := base64.RawURLEncoding.EncodeToString([]byte("Exam:ZZ-999"))
	env.MustDo(apitest.Anonymous, q, map[string]any{"id": unknown}, &out)
	if out.Node != nil {
		t.Errorf("node(id of no exam) = %+v, want null", out.Node)
	}
	nul := base64.RawURLEncoding.EncodeToString([]byte("Exam:AZ\x00104"))
	env.MustFail(apitest.Anonymous, q, map[string]any{"id": nul}, "BAD_USER_INPUT")
}
