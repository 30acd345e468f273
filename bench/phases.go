package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/recert/recert/internal/auth"
)

// dashboardQuery is the dashboard query of issue 8, verbatim (-query-file replaces it).
var dashboardQuery = `query Dashboard($mcid: String!) {
  certificationProfile(mcid: $mcid) {
    mcid legalName email
    learnProfile { id linkedAt }
    certifications(first: 20) {
      totalCount
      nodes {
        id earnedOn expiresOn status
        certification { code name level }
        renewal { eligible reason windowOpensOn deadline attemptsThisCycle nextAttemptAt }
      }
    }
  }
}`

// phaseResult is one line of the report.
type phaseResult struct {
	Phase    string
	Server   string
	Requests uint64
	RPS      float64
	P50, P99 time.Duration
	Max      time.Duration
	Errors   uint64
	FirstErr string
	Proc     procStats
}

// gqlBody encodes a GraphQL request.
func gqlBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// gqlFailed reports whether a 200 response carries GraphQL errors (or no data).
func gqlFailed(body []byte) (bool, string) {
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return true, "undecodable response: " + truncate(string(body), 200)
	}
	if len(r.Errors) > 0 {
		return true, fmt.Sprintf("%v: %s", r.Errors[0].Extensions["code"], r.Errors[0].Message)
	}
	if len(r.Data) == 0 || string(r.Data) == "null" {
		return true, "no data"
	}
	return false, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// attack runs a closed-loop load of conc concurrent requests for d (or max requests) with
// vegeta, checking each response with check, and measures the process pid meanwhile.
func (e *env) attack(ctx context.Context, phase, server string, pid int, tr vegeta.Targeter, conc int, d time.Duration, max int,
	check func([]byte) (bool, string)) phaseResult {
	var n atomic.Int64
	limited := func(t *vegeta.Target) error {
		if n.Add(1) > int64(max) {
			return vegeta.ErrNoTargets
		}
		return tr(t)
	}
	atk := vegeta.NewAttacker(vegeta.Workers(uint64(conc)), vegeta.MaxWorkers(uint64(conc)),
		vegeta.Connections(conc), vegeta.MaxConnections(conc), vegeta.KeepAlive(true),
		vegeta.Timeout(30*time.Second), vegeta.HTTP2(false))
	w := watch(pid)
	var m vegeta.Metrics
	res := phaseResult{Phase: phase, Server: server}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	for r := range atk.Attack(limited, vegeta.Rate{Freq: 0}, d, phase) {
		if r.Error == vegeta.ErrNoTargets.Error() {
			continue
		}
		m.Add(r)
		failed, why := r.Error != "", r.Error
		if !failed && check != nil {
			failed, why = check(r.Body)
		}
		if failed {
			res.Errors++
			if res.FirstErr == "" {
				res.FirstErr = truncate(why, 200)
			}
		}
	}
	res.Proc = w.done()
	m.Close()
	res.Requests = m.Requests
	res.RPS = m.Rate
	res.P50, res.P99, res.Max = m.Latencies.P50, m.Latencies.P99, m.Latencies.Max
	return res
}

// ownerTargeter picks a random owner per request (a fixed permutation, so runs compare).
func (e *env) ownerTargeter(url string, body func(o owner) []byte) vegeta.Targeter {
	perm := rand.New(rand.NewPCG(uint64(e.o.seed), 8)).Perm(len(e.owners))
	var i atomic.Int64
	return func(t *vegeta.Target) error {
		o := e.owners[perm[int(i.Add(1))%len(perm)]]
		t.Method, t.URL, t.Body = http.MethodPost, url, body(o)
		t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + o.Token}}
		return nil
	}
}

func dashboardBody(o owner) []byte {
	return gqlBody(dashboardQuery, map[string]any{"mcid": o.MCID})
}

func dashboardCheck(body []byte) (bool, string) {
	if failed, why := gqlFailed(body); failed {
		return true, why
	}
	if bytes.Contains(body, []byte(`"certificationProfile":null`)) {
		return true, "certificationProfile is null"
	}
	return false, ""
}

func limitCheck(body []byte) (bool, string) {
	if !bytes.Contains(body, []byte(`"certifications"`)) {
		return true, "unexpected limit response: " + truncate(string(body), 200)
	}
	return false, ""
}

// phases runs every scenario in order.
func (e *env) phases(ctx context.Context) error {
	if e.o.wants("dashboard") {
		if err := e.dashboard(ctx); err != nil {
			return err
		}
	}
	for _, p := range []struct {
		name string
		run  func(context.Context) error
	}{{"search", e.search}, {"record", e.record}, {"renewal", e.renewal}, {"merge", e.merge}, {"reminders", e.reminders}} {
		if !e.o.wants(p.name) {
			continue
		}
		if err := p.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// dashboard runs the A/B rounds: the limit, then Recert, rounds times.
func (e *env) dashboard(ctx context.Context) error {
	gql := "http://" + e.recert.addr + "/graphql"
	rec := e.ownerTargeter(gql, dashboardBody)
	var lim vegeta.Targeter
	if e.limit != nil {
		lim = e.ownerTargeter("http://"+e.limit.addr+"/dashboard", dashboardBody)
	}
	c, d := e.o.concurrency, e.o.duration
	if e.o.warmup > 0 {
		log.Printf("dashboard: warming up both servers (%s each)", e.o.warmup)
		if lim != nil {
			e.attack(ctx, "warmup", "limit", e.limit.pid(), lim, c, e.o.warmup, e.o.maxRequests, limitCheck)
		}
		w := e.attack(ctx, "warmup", "recert", e.recert.pid(), rec, c, e.o.warmup, e.o.maxRequests, dashboardCheck)
		if w.Errors > 0 {
			log.Printf("dashboard warm-up: %d of %d requests failed, first: %s", w.Errors, w.Requests, w.FirstErr)
		}
	}
	for r := 1; r <= e.o.rounds; r++ {
		if lim != nil {
			res := e.attack(ctx, "dashboard", "limit", e.limit.pid(), lim, c, d, e.o.maxRequests, limitCheck)
			e.add(res)
		}
		var prof chan error
		if r == e.o.rounds && e.o.cpuProfile != "" {
			prof = make(chan error, 1)
			secs := max(int(d.Seconds())-1, 1)
			go func() {
				prof <- fetch(ctx, "http://"+e.recert.admin+"/debug/pprof/profile?seconds="+strconv.Itoa(secs), e.o.cpuProfile,
					time.Duration(secs)*time.Second)
			}()
		}
		res := e.attack(ctx, "dashboard", "recert", e.recert.pid(), rec, c, d, e.o.maxRequests, dashboardCheck)
		e.add(res)
		if prof != nil {
			if err := <-prof; err != nil {
				log.Printf("cpu profile: %v", err)
			} else {
				log.Printf("cpu profile written to %s", e.o.cpuProfile)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if e.o.memProfile != "" {
		if err := fetch(ctx, "http://"+e.recert.admin+"/debug/pprof/allocs", e.o.memProfile, 0); err != nil {
			log.Printf("alloc profile: %v", err)
		}
	}
	return nil
}

func (e *env) add(r phaseResult) {
	e.results = append(e.results, r)
	log.Printf("%-10s %-7s %8d req %9.1f req/s  p50 %8s  p99 %8s  errors %d  cpu %5.0f%%  pg %5.0f%%  rss %6.1f MB %s",
		r.Phase, r.Server, r.Requests, r.RPS, r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond),
		r.Errors, r.Proc.CPUPercent, r.Proc.PGPercent, r.Proc.PeakRSSMB, r.FirstErr)
}

// fetch writes what url answers to path; the request may last takes (a CPU profile's
// duration) plus 30 seconds.
func fetch(ctx context.Context, url, path string, takes time.Duration) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: takes + 30*time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// mint makes a token for a non-owner identity (support, exam delivery).
func (e *env) mint(sub string, roles ...string) string {
	tok, err := auth.MintDev(e.signer.Secret, e.signer.Issuer, e.signer.Audience, time.Now(), auth.DevToken{
		Subject: sub, Roles: roles, Name: sub, TTL: 6 * time.Hour,
	})
	if err != nil {
		panic(err)
	}
	return tok
}

// search: support searches by last name, email and MCID, concurrently.
func (e *env) search(ctx context.Context) error {
	tok := e.mint("bench-support", auth.RoleSupport)
	names := []string{"tanaka", "Müller", "garcia", "Søren", "nakamura", "O'Brien", "lee", "José Silva", "kowalski", "ito"}
	const q = `query Search($q: String!) { searchCertificationProfiles(query: $q, first: 20) {
  totalCount nodes { id mcid legalName email status } } }`
	var i atomic.Int64
	url := "http://" + e.recert.addr + "/graphql"
	tr := func(t *vegeta.Target) error {
		n := int(i.Add(1))
		var term string
		switch n % 3 {
		case 0:
			term = names[n%len(names)]
		case 1:
			term = "learner" + strconv.Itoa(1+n*7919%len(e.owners)) + "@example.com"
		default:
			term = e.owners[n*104729%len(e.owners)].MCID
		}
		t.Method, t.URL, t.Body = http.MethodPost, url, gqlBody(q, map[string]any{"q": term})
		t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}
		return nil
	}
	e.add(e.attack(ctx, "search", "recert", e.recert.pid(), tr, e.o.concurrency, e.o.duration, e.o.maxRequests, gqlFailed))
	return nil
}

// record: exam delivery records results for random profiles (unique external ids per run).
func (e *env) record(ctx context.Context) error {
	// Only exams still offered: a result taken after an exam's retirement is refused.
	var exams []string
	if err := e.db.SelectContext(ctx, &exams, `SELECT code FROM exams
WHERE retired_on IS NULL OR retired_on >= (now() AT TIME ZONE 'UTC')::date ORDER BY code`); err != nil {
		return err
	}
	if len(exams) == 0 {
		return fmt.Errorf("record: no exam is still offered")
	}
	tok := e.mint("bench-exam-delivery", auth.RoleExamDelivery)
	const q = `mutation Record($in: RecordExamResultInput!) { recordExamResult(input: $in) {
  examResult { id passed } earnedCertifications { id status } } }`
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var i atomic.Int64
	url := "http://" + e.recert.addr + "/graphql"
	taken := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	tr := func(t *vegeta.Target) error {
		n := int(i.Add(1))
		o := e.owners[(n*7919)%len(e.owners)]
		in := map[string]any{"mcid": o.MCID, "examCode": exams[n%len(exams)], "passed": n%3 != 0, "score": 500 + n%500,
			"takenAt": taken, "externalId": "bench-rec-" + run + "-" + strconv.Itoa(n)}
		t.Method, t.URL, t.Body = http.MethodPost, url, gqlBody(q, map[string]any{"in": in})
		t.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}
		return nil
	}
	e.add(e.attack(ctx, "record", "recert", e.recert.pid(), tr, e.o.concurrency, e.o.duration, e.o.maxRequests, gqlFailed))
	return nil
}

// profileID is the opaque id of a certification profile as the API encodes it (graph/ids.go).
func profileID(id fmt.Stringer) string {
	return base64.RawURLEncoding.EncodeToString([]byte("CertificationProfile:" + id.String()))
}

// earnedID is the opaque id of an earned certification.
func earnedID(id fmt.Stringer) string {
	return base64.RawURLEncoding.EncodeToString([]byte("EarnedCertification:" + id.String()))
}

// timed collects latencies of a custom (multi-step) phase into vegeta metrics.
type timed struct {
	mu     sync.Mutex
	m      vegeta.Metrics
	errs   uint64
	first  string
	starts time.Time
}

func (t *timed) observe(start time.Time, failed bool, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	code := uint16(200)
	if failed {
		code = 500
		t.errs++
		if t.first == "" {
			t.first = truncate(why, 200)
		}
	}
	t.m.Add(&vegeta.Result{Timestamp: start, Latency: time.Since(start), Code: code})
}

func (t *timed) result(phase string, proc procStats) phaseResult {
	t.m.Close()
	return phaseResult{Phase: phase, Server: "recert", Requests: t.m.Requests, RPS: t.m.Rate,
		P50: t.m.Latencies.P50, P99: t.m.Latencies.P99, Max: t.m.Latencies.Max, Errors: t.errs, FirstErr: t.first, Proc: proc}
}

// post sends one GraphQL request and decodes data into out.
func post(ctx context.Context, client *http.Client, url, token, query string, vars map[string]any, out any) (bool, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(gqlBody(query, vars)))
	if err != nil {
		return true, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return true, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return true, err.Error()
	}
	if failed, why := gqlFailed(body); failed {
		return true, why
	}
	if out != nil {
		var r struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return true, err.Error()
		}
		if err := json.Unmarshal(r.Data, out); err != nil {
			return true, err.Error()
		}
	}
	return false, ""
}

// median of a non-empty slice.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
