package supportcli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/postgres/pgtest"
	"github.com/recert/recert/internal/supportcli"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// server is a Recert server started for the test, with a support token.
type server struct {
	env   *apitest.Env
	url   string
	token string
}

func start(t *testing.T) server {
	t.Helper()
	env := apitest.New(t)
	ts := httptest.NewServer(env.Server.Handler())
	t.Cleanup(ts.Close)
	return server{env: env, url: ts.URL, token: env.Token(apitest.Support("cli-agent"))}
}

type profile struct{ ID, MCID, Email string }

func (s server) profile(t *testing.T, sub, name string) profile {
	t.Helper()
	owner := apitest.Learner(sub)
	var out struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ ID, Mcid, Email string }
		}
	}
	s.env.MustDo(owner, `mutation($in: CreateCertificationProfileInput!) {
		createCertificationProfile(input: $in) { certificationProfile { id mcid email } } }`,
		map[string]any{"in": map[string]any{"legalName": name, "email": sub + "@example.com"}}, &out)
	p := out.CreateCertificationProfile.CertificationProfile
	return profile{ID: p.ID, MCID: p.Mcid, Email: p.Email}
}

func (s server) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := s.env.DB.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// earned gives a profile an earned certification.
func (s server) earned(t *testing.T, p profile, code, earnedOn, expiresOn string) {
	t.Helper()
	s.exec(t, `INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT p.id, c.id, $3, $4, $5 FROM certification_profiles p, certifications c WHERE p.mcid = $1 AND c.code = $2`,
		p.MCID, code, earnedOn, expiresOn, s.env.Clock.Now())
}

func (s server) status(t *testing.T, p profile) string {
	t.Helper()
	var st string
	if err := s.env.DB.Get(&st, `SELECT status FROM certification_profiles WHERE mcid = $1`, p.MCID); err != nil {
		t.Fatal(err)
	}
	return st
}

func (s server) count(t *testing.T, q string) int {
	t.Helper()
	var n int
	if err := s.env.DB.Get(&n, q); err != nil {
		t.Fatal(err)
	}
	return n
}

// run runs `support args...` against the server with stdin, returning stdout and the error.
// The server comes from the flags unless env is given.
func (s server) run(t *testing.T, stdin string, env map[string]string, args ...string) (string, error) {
	t.Helper()
	if env == nil {
		args = append(args, "--url", s.url, "--token", s.token)
	}
	var out, errOut bytes.Buffer
	err := supportcli.Run(context.Background(), args, supportcli.IO{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
	})
	t.Logf("support %s\n%s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), err
}

func mustContain(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("got output without %q:\n%s", w, out)
		}
	}
}

var (
	keyLine   = regexp.MustCompile(`Idempotency key: (\S+)`)
	retryLine = regexp.MustCompile(`retry it safely with:\n  recert support (merge .*)\n`)
	eventLine = regexp.MustCompile(`Audit event (\S+) `)
)

func TestPreviewPrintsWhatWouldMove(t *testing.T) {
	s := start(t)
	surv, dup := s.profile(t, "pv-s", "Mia Wong"), s.profile(t, "pv-d", "Mia Wong")
	s.earned(t, dup, "azure-developer-associate", "2020-10-15", "2021-10-15")
	s.earned(t, dup, "azure-security-engineer-associate", "2020-11-30", "2021-11-30")
	out, err := s.run(t, "", nil, "preview", surv.MCID, dup.MCID)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "SURVIVOR (kept)", surv.MCID, dup.MCID, "Mia Wong", dup.Email, "ACTIVE")
	if !regexp.MustCompile(`earned certifications\s+2\n`).MatchString(out) ||
		!regexp.MustCompile(`exam results\s+0\n`).MatchString(out) {
		t.Fatalf("got output without the counts 2 and 0:\n%s", out)
	}
	mustContain(t, out, "Becomes SUPERSEDED: none", "Conflicts: none")
	if got := s.status(t, dup); got != "ACTIVE" {
		t.Fatalf("got %s after preview, want ACTIVE", got)
	}

	// The same certification on both sides: the survivor's earlier expiry would be superseded.
	s.earned(t, surv, "azure-developer-associate", "2020-05-01", "2021-05-01")
	out, err = s.run(t, "", nil, "preview", surv.MCID, dup.MCID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`azure-developer-associate\s+2020-05-01\s+2021-05-01\s+\S+\n`).MatchString(out) {
		t.Fatalf("got output without the superseded survivor record:\n%s", out)
	}
	mustContain(t, out, "Becomes SUPERSEDED (the same certification")
}

func TestMergeAsksForConfirmation(t *testing.T) {
	s := start(t)
	surv, dup := s.profile(t, "cf-s", "Leo Rossi"), s.profile(t, "cf-d", "Leo Rossi")
	s.earned(t, dup, "azure-data-scientist-associate", "2020-07-31", "2021-07-31")

	out, err := s.run(t, "no\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person")
	if !errors.Is(err, supportcli.ErrCancelled) {
		t.Fatalf("got %v, want ErrCancelled", err)
	}
	mustContain(t, out, "Type yes to continue")
	if got := s.status(t, dup); got != "ACTIVE" {
		t.Fatalf("got %s after a refused confirmation, want ACTIVE", got)
	}

	out, err = s.run(t, "yes\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person", "--ticket", "SR-7")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "Merged.", "MERGED", dup.Email, "profile.merge by recert-test|cli-agent")
	if got := s.status(t, dup); got != "MERGED" {
		t.Fatalf("got %s after the merge, want MERGED", got)
	}
	key := keyLine.FindStringSubmatch(out)
	retry := retryLine.FindStringSubmatch(out)
	event := eventLine.FindStringSubmatch(out)
	if key == nil || retry == nil || event == nil {
		t.Fatalf("got output without the key, the retry command or the event:\n%s", out)
	}

	// The printed retry command is safe: it returns the first merge's result.
	retryArgs := splitQuoted(t, retry[1])
	out, err = s.run(t, "", nil, retryArgs...)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "already been merged", "Merged.", "Audit event "+event[1]+" ", "Idempotency key: "+key[1])
	if n := s.count(t, `SELECT count(*) FROM merges`); n != 1 {
		t.Fatalf("got %d merges after the retry, want 1", n)
	}
	if n := s.count(t, `SELECT count(*) FROM audit_events WHERE action = 'profile.merge'`); n != 1 {
		t.Fatalf("got %d merge events after the retry, want 1", n)
	}

	// A new merge of the merged MCID is refused by the tool before anything is sent.
	_, err = s.run(t, "yes\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "again")
	if err == nil || !strings.Contains(err.Error(), "has already been merged into MCID "+surv.MCID) {
		t.Fatalf("got %v, want the already-merged explanation", err)
	}
}

func TestMergeWithYesAndEnvironment(t *testing.T) {
	s := start(t)
	surv, dup := s.profile(t, "y-s", "Ines Costa"), s.profile(t, "y-d", "Ines Costa")
	env := map[string]string{"RECERT_URL": s.url, "RECERT_TOKEN": s.token}
	out, err := s.run(t, "", env, "merge", "--yes", surv.ID, dup.ID, "--reason", "duplicate registration",
		"--idempotency-key", "ticket-42-merge")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Type yes") {
		t.Fatalf("got a prompt with --yes:\n%s", out)
	}
	mustContain(t, out, "Idempotency key: ticket-42-merge", "Merged.")
	if got := s.status(t, dup); got != "MERGED" {
		t.Fatalf("got %s, want MERGED", got)
	}
	var key string
	if err := s.env.DB.Get(&key, `SELECT key FROM idempotency_keys`); err != nil || key != "ticket-42-merge" {
		t.Fatalf("got key %q (%v), want ticket-42-merge", key, err)
	}

	out, err = s.run(t, "", env, "audit", surv.MCID)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "OCCURRED", "profile.merge", "recert-test|cli-agent", "duplicate registration", "1 of 1 events")
}

func TestMergeStopsOnALinkConflict(t *testing.T) {
	s := start(t)
	surv, dup := s.profile(t, "lc-s", "Aya Sato"), s.profile(t, "lc-d", "Aya Sato")
	for _, p := range []struct {
		sub string
		p   profile
	}{{"lc-s", surv}, {"lc-d", dup}} {
		s.env.MustDo(apitest.Learner(p.sub), `{ viewer { learnProfile { id } } }`, nil, nil)
		s.exec(t, `INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
SELECT l.id, p.id, p.account_id, $3 FROM learn_profiles l JOIN accounts a ON a.id = l.account_id, certification_profiles p
WHERE a.subject = $1 AND p.mcid = $2`, p.sub, p.p.MCID, s.env.Clock.Now())
	}
	out, err := s.run(t, "yes\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person")
	if err == nil || !strings.Contains(err.Error(), "--keep") {
		t.Fatalf("got %v, want advice to pass --keep", err)
	}
	mustContain(t, out, "MERGE_LINK_CONFLICT")
	if got := s.status(t, dup); got != "ACTIVE" {
		t.Fatalf("got %s, want ACTIVE", got)
	}
	// The two profiles belong to two accounts: the duplicate's Learn profile cannot be kept.
	if _, err := s.run(t, "y\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person", "--keep", "duplicate"); err == nil ||
		!strings.Contains(err.Error(), "ACCOUNT_MISMATCH") {
		t.Fatalf("got %v, want ACCOUNT_MISMATCH", err)
	}
	if _, err := s.run(t, "y\n", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person", "--keep", "survivor"); err != nil {
		t.Fatal(err)
	}
	if got := s.status(t, dup); got != "MERGED" {
		t.Fatalf("got %s, want MERGED", got)
	}
}

func TestToolErrors(t *testing.T) {
	s := start(t)
	p := s.profile(t, "err-s", "Tom Berg")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", map[string]string{"RECERT_URL": s.url}, []string{"preview", "1", "2"}, "no token"},
		{"bad url", map[string]string{"RECERT_URL": "ftp://x", "RECERT_TOKEN": "t"}, []string{"preview", "1", "2"}, "want http(s)"},
		{"missing reason", nil, []string{"merge", p.MCID, "990"}, "--reason is required"},
		{"bad keep", nil, []string{"merge", p.MCID, "990", "--reason", "r", "--keep", "both"}, "--keep must be"},
		{"wrong argument count", nil, []string{"preview", p.MCID}, "want SURVIVOR DUPLICATE"},
		{"unknown MCID", nil, []string{"preview", p.MCID, "1"}, "no certification profile with MCID 1"},
		{"same profile", nil, []string{"preview", p.MCID, p.MCID}, "MERGE_SAME_PROFILE"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown support command"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.run(t, "", c.env, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
	t.Run("a learner's token is refused by the server", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := supportcli.Run(context.Background(), []string{"preview", p.ID, p.ID, "--url", s.url,
			"--token", s.env.Token(apitest.Learner("err-s"))}, supportcli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
		var ge *supportcli.Error
		if !errors.As(err, &ge) || ge.Code != "FORBIDDEN" {
			t.Fatalf("got %v, want FORBIDDEN", err)
		}
	})
}

// splitQuoted splits a printed command line, honouring Go-quoted arguments.
func splitQuoted(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := 1
			for ; end < len(s) && (s[end] != '"' || s[end-1] == '\\'); end++ {
			}
			var v string
			if _, err := fmt.Sscanf(s[:end+1], "%q", &v); err != nil {
				t.Fatalf("unquote %s: %v", s[:end+1], err)
			}
			out = append(out, v)
			s = s[end+1:]
			continue
		}
		word, rest, _ := strings.Cut(s, " ")
		out = append(out, word)
		s = rest
	}
	return out
}

func TestSearchListsProfilesPageByPage(t *testing.T) {
	s := start(t)
	a, b := s.profile(t, "srch-a", "Yuki Tanaka"), s.profile(t, "srch-b", "Yūki Tanaka")
	s.profile(t, "srch-c", "Someone Else")
	out, err := s.run(t, "", nil, "search", "tanaka", "--first", "1")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, "MCID", "NAME", "EMAIL", "STATUS", "1 of 2 profiles", "more: --after ")
	cursor := regexp.MustCompile(`more: --after (\S+)`).FindStringSubmatch(out)[1]
	next, err := s.run(t, "", nil, "search", "tanaka", "--first", "1", "--after", cursor)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, next, "1 of 2 profiles")
	if strings.Contains(next, "more: --after") {
		t.Fatalf("got another page after the last:\n%s", next)
	}
	both := out + next
	mustContain(t, both, a.MCID, b.MCID, a.Email, b.Email)
	if strings.Contains(both, "Someone Else") {
		t.Fatalf("got a profile that does not match:\n%s", both)
	}

	// After a merge the duplicate's email finds the survivor, which lists it as an alternate.
	if _, err := s.run(t, "", nil, "merge", a.MCID, b.MCID, "--reason", "same person", "--yes"); err != nil {
		t.Fatal(err)
	}
	out, err = s.run(t, "", nil, "search", b.Email)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, a.MCID, b.Email)
}

// --json prints the result as JSON with the API's field names, and nothing else on stdout
// (merge's preview, key and prompt go to stderr).
func TestJSONOutput(t *testing.T) {
	s := start(t)
	surv, dup := s.profile(t, "js-s", "Ana Lima"), s.profile(t, "js-d", "Ana Lima")
	s.earned(t, dup, "azure-developer-associate", "2020-10-15", "2021-10-15")
	decode := func(out string, v any) {
		t.Helper()
		dec := json.NewDecoder(strings.NewReader(out))
		if err := dec.Decode(v); err != nil || dec.More() {
			t.Fatalf("got %v decoding %q, want exactly one JSON document", err, out)
		}
	}

	out, err := s.run(t, "", nil, "search", "lima", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var found struct {
		TotalCount int `json:"totalCount"`
		Nodes      []struct {
			ID, MCID, LegalName, Email, Status string
			AlternateEmails                    []string
			MergedInto                         any
		} `json:"nodes"`
		PageInfo struct {
			HasNextPage bool    `json:"hasNextPage"`
			EndCursor   *string `json:"endCursor"`
		} `json:"pageInfo"`
	}
	decode(out, &found)
	if found.TotalCount != 2 || len(found.Nodes) != 2 || found.Nodes[0].LegalName != "Ana Lima" {
		t.Fatalf("got %+v, want both profiles", found)
	}

	out, err = s.run(t, "", nil, "preview", surv.MCID, dup.MCID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var pv map[string]any
	decode(out, &pv)
	if pv["movingCertifications"] != float64(1) || pv["survivor"].(map[string]any)["mcid"] != surv.MCID {
		t.Fatalf("got %v, want one moving certification and the survivor", pv)
	}

	out, err = s.run(t, "", nil, "merge", surv.MCID, dup.MCID, "--reason", "same person", "--yes", "--json",
		"--idempotency-key", "json-merge")
	if err != nil {
		t.Fatal(err)
	}
	var merged struct {
		IdempotencyKey string `json:"idempotencyKey"`
		Survivor       map[string]any
		Duplicate      struct{ Status string }
		AuditEvent     struct{ ID, Action, Actor, OccurredAt string }
	}
	decode(out, &merged)
	if merged.IdempotencyKey != "json-merge" || merged.Duplicate.Status != "MERGED" || merged.AuditEvent.Action != "profile.merge" {
		t.Fatalf("got %+v, want the merge result", merged)
	}

	out, err = s.run(t, "", nil, "audit", surv.MCID, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var trail struct {
		Profile    struct{ MCID string }
		TotalCount int `json:"totalCount"`
		Nodes      []struct {
			ID, Action, Actor, OccurredAt string
			Reason, Ticket                *string
		} `json:"nodes"`
	}
	decode(out, &trail)
	if trail.Profile.MCID != surv.MCID || trail.TotalCount != 1 || trail.Nodes[0].Reason == nil || *trail.Nodes[0].Reason != "same person" {
		t.Fatalf("got %+v, want the merge event", trail)
	}
}

// Every HTTP request is bounded by --timeout: a server that never answers is an error.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer ts.Close()
	defer close(release)
	var out, errOut bytes.Buffer
	err := supportcli.Run(context.Background(), []string{"search", "x", "--url", ts.URL, "--token", "t", "--timeout", "100ms"},
		supportcli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	if err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("got %v, want the request to time out", err)
	}
	err = supportcli.Run(context.Background(), []string{"search", "x", "--url", ts.URL, "--token", "t", "--timeout", "0s"},
		supportcli.IO{Stdout: &out, Stderr: &errOut})
	if err == nil || !strings.Contains(err.Error(), "--timeout must be positive") {
		t.Fatalf("got %v, want --timeout 0 refused (it would mean no timeout)", err)
	}
}
