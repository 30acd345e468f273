package httpserver_test

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
)

// The read rule, proved by walking the schema rather than a hand-kept list of fields (issue 12):
// an owner holds one object of every Node type, and a stranger (another learner, who also has
// a profile merged into the owner's), a work account and an anonymous caller ask for every one
// of them by id and follow every field path (to a bounded depth) from every root field. No
// answer may carry the owner's name, email, MCID or the id of anything the owner holds; errors
// may only say FORBIDDEN, NOT_FOUND or UNAUTHENTICATED. A field added later that reaches
// someone else's data without the domain's check fails here without anyone listing it.

// publicNodeTypes are the Node types anyone may read: the catalog. Every other Node type is
// someone's data, and the test requires the owner to hold one.
var publicNodeTypes = []string{"Certification", "Exam", "RenewalAssessment"}

type schemaTypeRef struct {
	Kind   string         `json:"kind"`
	Name   string         `json:"name"`
	OfType *schemaTypeRef `json:"ofType"`
}

func (t schemaTypeRef) named() schemaTypeRef {
	for t.OfType != nil {
		t = *t.OfType
	}
	return t
}

type schemaField struct {
	Name string `json:"name"`
	Args []struct {
		Name string        `json:"name"`
		Type schemaTypeRef `json:"type"`
	} `json:"args"`
	Type schemaTypeRef `json:"type"`
}

type schemaType struct {
	Kind          string        `json:"kind"`
	Name          string        `json:"name"`
	Fields        []schemaField `json:"fields"`
	PossibleTypes []struct {
		Name string `json:"name"`
	} `json:"possibleTypes"`
}

const introspectionQuery = `{ __schema { types { kind name possibleTypes { name }
  fields { name args { name type { ...T } } type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`

func loadSchema(t *testing.T, env *apitest.Env) map[string]schemaType {
	t.Helper()
	var out struct {
		Schema struct {
			Types []schemaType `json:"types"`
		} `json:"__schema"`
	}
	env.MustDo(apitest.Support("introspector"), introspectionQuery, nil, &out)
	types := map[string]schemaType{}
	for _, ty := range out.Schema.Types {
		types[ty.Name] = ty
	}
	return types
}

// readRuleFixture gives the owner one object of every personal Node type and returns the
// owner's markers (values no one else may read) and the owner's opaque id of each Node type.
type readRuleFixture struct {
	markers   []string
	ownerOnly []string // values not even support may read
	ids       map[string]string
	mcid      string
	name      string
	cert      string
}

func opaqueID(kind, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + id))
}

func newReadRuleFixture(t *testing.T, env *apitest.Env, owner, stranger apitest.Identity) readRuleFixture {
	t.Helper()
	create := func(id apitest.Identity, name string, link bool) (string, string) {
		var out struct {
			CreateCertificationProfile struct {
				CertificationProfile struct{ ID, MCID string } `json:"certificationProfile"`
			} `json:"createCertificationProfile"`
		}
		env.MustDo(id, `mutation($in: CreateCertificationProfileInput!) { createCertificationProfile(input: $in) {
  certificationProfile { id mcid } } }`, map[string]any{"in": map[string]any{"legalName": name, "email": id.Email}}, &out)
		p := out.CreateCertificationProfile.CertificationProfile
		if !link {
			return p.ID, p.MCID
		}
		env.MustDo(id, `mutation($in: LinkCertificationProfileInput!) { linkCertificationProfile(input: $in) {
  certificationProfile { id } } }`, map[string]any{"in": map[string]any{"certificationProfileId": p.ID}}, nil)
		return p.ID, p.MCID
	}
	f := readRuleFixture{ids: map[string]string{}, name: "Ownerhidden Quentin"}
	profileID, mcid := create(owner, f.name, true)
	f.mcid = mcid
	var share struct {
		CreateTranscriptShare struct {
			Share struct{ ID string } `json:"share"`
		} `json:"createTranscriptShare"`
	}
	env.MustDo(owner, `mutation($in: CreateTranscriptShareInput!) { createTranscriptShare(input: $in) { share { id } } }`,
		map[string]any{"in": map[string]any{"certificationProfileId": profileID}}, &share)
	f.ids["TranscriptShare"] = share.CreateTranscriptShare.Share.ID
	var grant struct {
		GrantTeamAccess struct {
			TeamAccessGrant struct{ ID string } `json:"teamAccessGrant"`
		} `json:"grantTeamAccess"`
	}
	// Shown to a tenant whose managers are not among the callers below.
	env.MustDo(owner, `mutation($in: GrantTeamAccessInput!) { grantTeamAccess(input: $in) { teamAccessGrant { id } } }`,
		map[string]any{"in": map[string]any{"certificationProfileId": profileID, "tenantId": "0bad0bad-0000-4000-8000-00000000beef"}}, &grant)
	f.ids["TeamAccessGrant"] = grant.GrantTeamAccess.TeamAccessGrant.ID
	var feed struct {
		CreateCalendarFeed struct {
			CalendarFeed struct{ ID string } `json:"calendarFeed"`
		} `json:"createCalendarFeed"`
	}
	env.MustDo(owner, `mutation($in: CreateCalendarFeedInput!) { createCalendarFeed(input: $in) { calendarFeed { id } } }`,
		map[string]any{"in": map[string]any{"certificationProfileId": profileID}}, &feed)
	f.ids["CalendarFeed"] = feed.CreateCalendarFeed.CalendarFeed.ID

	// The stranger's own profile, and a second one a support merge folded into the owner's: a
	// path from the stranger's data to the owner's (mergedInto, the merged MCID).
	dupID, _ := create(stranger, "Stranger Duplicate", false)
	rawDup, err := base64.RawURLEncoding.DecodeString(dupID)
	if err != nil {
		t.Fatalf("decode id: %v", err)
	}
	_, dupUUID, _ := strings.Cut(string(rawDup), ":")
	if _, err := env.DB.Exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = (SELECT id FROM certification_profiles WHERE mcid = $1::bigint),
  merged_at = $2::timestamptz WHERE id = $3::uuid`, mcid, env.Clock.Now(), dupUUID); err != nil {
		t.Fatalf("merge: %v", err)
	}
	create(stranger, "Stranger Own", true)
	day := env.Clock.Now().Format("2006-01-02")
	steps := []string{
		`INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, $2::date - 300, $2::date + 30, $2::timestamptz FROM certification_profiles p,
  (SELECT c.id FROM certifications c JOIN renewal_assessments a ON a.certification_id = c.id ORDER BY c.code LIMIT 1) c
WHERE p.mcid = $1::bigint`,
		`INSERT INTO assessment_attempts (earned_certification_id, version_id, language, cycle_expires_on, started_at, submitted_at, score, passed)
SELECT e.id, v.id, 'en', e.expires_on, $2::timestamptz - interval '2 days', $2::timestamptz - interval '2 days' + interval '10 minutes', 10, false
FROM earned_certifications e JOIN certification_profiles p ON p.id = e.profile_id
JOIN renewal_assessments a ON a.certification_id = e.certification_id
JOIN assessment_versions v ON v.assessment_id = a.id WHERE p.mcid = $1::bigint`,
		`INSERT INTO exam_results (profile_id, exam_code, passed, score, taken_at, external_id, recorded_at)
SELECT p.id, (SELECT code FROM exams ORDER BY code LIMIT 1), true, 800, $2::timestamptz - interval '300 days', 'readrule-1', $2::timestamptz
FROM certification_profiles p WHERE p.mcid = $1::bigint`,
		`INSERT INTO notifications (earned_certification_id, cycle_expires_on, sequence, kind, email, scheduled_for, created_at, next_attempt_at)
SELECT e.id, e.expires_on, 1, 'RENEWAL_WINDOW_OPEN', p.email, $2::timestamptz, $2::timestamptz, $2::timestamptz
FROM earned_certifications e JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid = $1::bigint`,
		`WITH ev AS (INSERT INTO audit_events (action, actor, occurred_at) VALUES ('readrule', 'test', $2::timestamptz) RETURNING id)
INSERT INTO audit_event_profiles (event_id, profile_id) SELECT ev.id, p.id FROM ev, certification_profiles p WHERE p.mcid = $1::bigint`,
	}
	for i, q := range steps {
		if _, err := env.DB.Exec(q, mcid, day); err != nil {
			t.Fatalf("fixture step %d: %v", i, err)
		}
	}
	// Every personal object of the owner, by Node type, straight from the tables.
	for kind, q := range map[string]string{
		"Account":              `SELECT a.id FROM accounts a JOIN certification_profiles p ON p.account_id = a.id WHERE p.mcid = $1::bigint`,
		"LearnProfile":         `SELECT l.id FROM learn_profiles l JOIN certification_profiles p ON p.account_id = l.account_id WHERE p.mcid = $1::bigint`,
		"CertificationProfile": `SELECT id FROM certification_profiles WHERE mcid = $1::bigint`,
		"EarnedCertification":  `SELECT e.id FROM earned_certifications e JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid = $1::bigint`,
		"ExamResult":           `SELECT r.id FROM exam_results r JOIN certification_profiles p ON p.id = r.profile_id WHERE p.mcid = $1::bigint`,
		"AssessmentAttempt": `SELECT t.id FROM assessment_attempts t JOIN earned_certifications e ON e.id = t.earned_certification_id
  JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid = $1::bigint`,
		"Notification": `SELECT n.id FROM notifications n JOIN earned_certifications e ON e.id = n.earned_certification_id
  JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid = $1::bigint`,
		"AuditEvent": `SELECT x.event_id FROM audit_event_profiles x JOIN certification_profiles p ON p.id = x.profile_id WHERE p.mcid = $1::bigint`,
	} {
		var id string
		if err := env.DB.QueryRow(q, mcid).Scan(&id); err != nil {
			t.Fatalf("owner's %s: %v", kind, err)
		}
		f.ids[kind] = opaqueID(kind, id)
	}
	if err := env.DB.QueryRow(`SELECT c.code FROM certifications c ORDER BY c.code LIMIT 1`).Scan(&f.cert); err != nil {
		t.Fatalf("catalog: %v", err)
	}
	f.markers = []string{f.name, owner.Email, `"` + mcid + `"`}
	for _, id := range f.ids {
		f.markers = append(f.markers, id)
	}
	// What only the owner may take, not even support: every owner-only field of the owner's
	// earned certification, read by the owner.
	var own map[string]any
	q := "query($id: ID!) { node(id: $id) { ... on EarnedCertification { " + strings.Join(ownerOnlyFields, " ") + " } } }"
	env.MustDo(owner, q, map[string]any{"id": f.ids["EarnedCertification"]}, &own)
	for _, fld := range ownerOnlyFields {
		v, _ := own["node"].(map[string]any)[fld].(string)
		if v == "" {
			t.Fatalf("the owner cannot read their own EarnedCertification.%s", fld)
		}
		if jwsPattern.MatchString(v) {
			v = strings.Split(v, ".")[1] // the payload: a new signature differs every time
		}
		f.ownerOnly = append(f.ownerOnly, v)
	}
	return f
}

// ownerOnlyFields are the EarnedCertification fields its holder alone reads (issue 17): support,
// who reads the record, must not get them either.
var ownerOnlyFields = []string{"openBadgeCredential", "linkedInAddToProfileUrl"}

// leaked reports the first marker found in data, reading inside any compact JWS as well (a
// credential carries the owner's MCID in its base64url payload).
func leaked(data []byte, markers []string) string {
	text := string(data)
	for _, m := range jwsPattern.FindAllString(text, -1) {
		parts := strings.Split(m, ".")
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			text += string(b)
		}
	}
	for _, m := range markers {
		if strings.Contains(text, m) {
			return m
		}
	}
	return ""
}

var jwsPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// leafSelection selects every scalar field of typ that needs no argument, and for an interface
// just __typename (node(id) is walked from the id's own type).
func leafSelection(types map[string]schemaType, typ string) string {
	ty := types[typ]
	parts := []string{"__typename"}
	for _, f := range ty.Fields {
		k := f.Type.named().Kind
		if (k == "SCALAR" || k == "ENUM") && !requiredArgs(f) {
			parts = append(parts, f.Name)
		}
	}
	return strings.Join(parts, " ")
}

func requiredArgs(f schemaField) bool {
	for _, a := range f.Args {
		if a.Type.Kind == "NON_NULL" {
			return true
		}
	}
	return false
}

// fieldPaths lists every path of object-typed fields below typ, at most depth long, on which
// no type comes back more than once (a profile's mergedInto is another profile, and that is
// a way to someone else's data), each as the selection that follows it.
func fieldPaths(types map[string]schemaType, typ string, depth int, seen []string) []string {
	out := []string{leafSelection(types, typ)}
	if depth == 0 {
		return out
	}
	for _, f := range types[typ].Fields {
		next := f.Type.named()
		if next.Kind != "OBJECT" || requiredArgs(f) || count(seen, next.Name) > 1 {
			continue
		}
		for _, sub := range fieldPaths(types, next.Name, depth-1, append(slices.Clone(seen), next.Name)) {
			out = append(out, leafSelection(types, typ)+" "+f.Name+" { "+sub+" }")
		}
	}
	return out
}

func TestNoOneReadsAnotherPersonsData(t *testing.T) {
	// Paths are walked one per query; the cost limit (a price on the worst case, not on
	// authorization) is lifted so that every path is answered.
	env := apitest.New(t, apitest.WithEnv(map[string]string{"QUERY_MAX_COST": "100000000"}))
	owner, stranger := apitest.Learner("ownerhidden"), apitest.Learner("stranger")
	f := newReadRuleFixture(t, env, owner, stranger)
	types := loadSchema(t, env)

	// Every Node type is either public or held by the owner: a new Node type needs a fixture.
	var personal []string
	for _, p := range types["Node"].PossibleTypes {
		if slices.Contains(publicNodeTypes, p.Name) {
			continue
		}
		if f.ids[p.Name] == "" {
			t.Fatalf("Node type %s is neither public nor held by the owner of this test: give the owner one", p.Name)
		}
		personal = append(personal, p.Name)
	}
	sort.Strings(personal)

	// The owner reads every one of them: the ids are real, so a null below is the rule.
	for _, k := range personal {
		var out struct{ Node *struct{ ID string } }
		env.MustDo(owner, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": f.ids[k]}, &out)
		if k != "AuditEvent" && (out.Node == nil || out.Node.ID != f.ids[k]) {
			t.Fatalf("the owner cannot read their own %s: got %+v", k, out.Node)
		}
	}

	// Root fields and their arguments: the owner's MCID and name where the caller names a profile.
	var roots []walkRoot
	for _, fld := range types["Query"].Fields {
		if fld.Name == "node" {
			for _, k := range personal {
				roots = append(roots, walkRoot{field: "node", decl: "($id: ID!)", call: "(id: $id)", on: k, vars: map[string]any{"id": f.ids[k]}})
			}
			continue
		}
		r := walkRoot{field: fld.Name, vars: map[string]any{}}
		var decl, call []string
		for _, a := range fld.Args {
			if a.Type.Kind != "NON_NULL" {
				continue
			}
			switch fld.Name + "." + a.Name {
			case "certificationProfile.mcid":
				r.vars[a.Name] = f.mcid
			case "searchCertificationProfiles.query":
				r.vars[a.Name] = f.name
			case "certification.code":
				r.vars[a.Name] = f.cert
			case "transcript.shareCode":
				r.vars[a.Name] = "not-a-share-code-of-anyone" // with the code the transcript is public by design
			default:
				t.Fatalf("root field %s: give its required argument %s a value", fld.Name, a.Name)
			}
			decl = append(decl, "$"+a.Name+": "+a.Type.named().Name+"!")
			call = append(call, a.Name+": $"+a.Name)
		}
		if len(decl) > 0 {
			r.decl, r.call = "("+strings.Join(decl, ", ")+")", "("+strings.Join(call, ", ")+")"
		}
		roots = append(roots, r)
	}

	callers := map[string]apitest.Identity{"stranger": stranger, "work account": apitest.Work("worker"), "anonymous": apitest.Anonymous,
		"support": apitest.Support("reader")}
	queries := 0
	for _, r := range roots {
		typ := fieldOf(types["Query"], r.field).Type.named().Name
		if r.on != "" {
			typ = r.on
		}
		for _, sel := range fieldPaths(types, typ, 4, []string{typ}) {
			if r.on != "" {
				sel = "__typename ... on " + r.on + " { " + sel + " }"
			}
			q := "query" + r.decl + " { " + r.field + r.call + " { " + sel + " } }"
			for who, id := range callers {
				queries++
				resp := env.Do(id, q, r.vars)
				markers := f.markers
				if who == "support" {
					markers = f.ownerOnly // support reads the profile, never what only its owner takes
				} else {
					markers = append(slices.Clone(markers), f.ownerOnly...)
				}
				if m := leaked(resp.Data, markers); m != "" {
					t.Fatalf("%s read the owner's %q through\n%s\nvariables %v\ngot %s", who, m, q, r.vars, resp.Raw)
				}
				for _, e := range resp.Errors {
					switch e.Code() {
					case "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED":
					default:
						t.Fatalf("%s: unexpected %s for\n%s\ngot %s", who, e.Code(), q, resp.Raw)
					}
				}
			}
		}
	}
	t.Logf("%d queries over %d root fields and %d personal Node types", queries, len(types["Query"].Fields), len(personal))
}

func fieldOf(ty schemaType, name string) schemaField {
	for _, f := range ty.Fields {
		if f.Name == name {
			return f
		}
	}
	panic(fmt.Sprintf("no field %s.%s", ty.Name, name))
}

// walkRoot is a root field with its argument declarations, call and variables.
type walkRoot struct {
	field, decl, call string
	on                string // node(id): the id's type
	vars              map[string]any
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}
