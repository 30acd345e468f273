package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/jmoiron/sqlx"
	"io"
	"log"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// explainOptions turns on auto_explain for every statement of the server's connections, so
// the plans of exactly the queries the API runs, with real parameters and at the seeded
// volume, land in PostgreSQL's log. session_preload_libraries needs a superuser connection
// (the embedded server's is one).
const explainOptions = "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 " +
	"-c auto_explain.log_format=json -c auto_explain.log_nested_statements=on -c auto_explain.log_analyze=on " +
	"-c auto_explain.log_timing=off"

func withOptions(dsn, opts string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("options", opts)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " options='" + opts + "'"
}

// largeTableRows is the row count from which a sequential scan is a failure.
const largeTableRows = 10_000

// explainMode runs every scenario briefly against a server whose statements are all
// auto-explained, then fails if any plan scans a large table sequentially.
func (e *env) explainMode(ctx context.Context) error {
	logPath := e.pgLog
	if p := os.Getenv("PG_LOG"); p != "" {
		logPath = p
	}
	if logPath == "" {
		return fmt.Errorf("-explain reads PostgreSQL's log: use the embedded database, or set PG_LOG to the log of DATABASE_URL's server")
	}
	st, err := os.Stat(logPath)
	if err != nil {
		return err
	}
	offset := st.Size()
	base := e.dsn
	e.dsn = withOptions(base, explainOptions)
	e.o.noLimit, e.o.warmup, e.o.rounds = true, 0, 1
	e.o.duration, e.o.maxRequests, e.o.concurrency = 3*time.Second, 60, 4
	e.o.renewals, e.o.merges = 4, 1
	defer e.stopServers() // also the ones started before a failure
	err = e.startServers(ctx, nil)
	if err == nil {
		e.schedDB, err = sqlx.Open("postgres", e.dsn)
	}
	e.dsn = base
	if err != nil {
		return err
	}
	// The owners with the most certifications come first so the 1,000-certification profiles
	// are among the dashboards explained.
	sort.SliceStable(e.owners, func(i, j int) bool { return e.owners[i].Earned > e.owners[j].Earned })
	e.owners = append(e.owners[:20:20], e.owners[len(e.owners)-40:]...)
	if err := e.phases(ctx); err != nil {
		log.Printf("explain: a scenario failed (%v); checking the plans it ran", err)
	}
	for _, r := range e.results {
		if r.Errors > 0 {
			log.Printf("explain: %s had %d errors (first: %s)", r.Phase, r.Errors, r.FirstErr)
		}
	}
	e.stopServers()
	e.recert, e.limit = nil, nil

	var large []string
	if err := e.db.SelectContext(ctx, &large, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.reltuples >= $1 ORDER BY 1`, largeTableRows); err != nil {
		return err
	}
	isLarge := map[string]bool{}
	for _, t := range large {
		isLarge[t] = true
	}
	f, err := os.Open(logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	text, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	plans := parsePlans(text)
	type verdict struct {
		query string
		scans []string
		runs  int
		maxMS float64
	}
	byQuery := map[string]*verdict{}
	var order []string
	for _, p := range plans {
		q := strings.Join(strings.Fields(p.Query), " ")
		if q == "" {
			q = "(statement inside a SQL function, e.g. search_fold)"
		}
		v := byQuery[q]
		if v == nil {
			v = &verdict{query: q}
			byQuery[q] = v
			order = append(order, q)
			for _, rel := range seqScans(p.Plan) {
				if isLarge[rel] {
					v.scans = append(v.scans, rel)
				}
			}
		}
		v.runs++
		v.maxMS = max(v.maxMS, p.Duration)
	}
	fmt.Printf("\nplan check: %d executions of %d distinct statements; large tables (>= %d rows): %s\n\n",
		len(plans), len(order), largeTableRows, strings.Join(large, ", "))
	bad := 0
	for _, q := range order {
		v := byQuery[q]
		mark := "ok  "
		if len(v.scans) > 0 {
			mark = "SEQ "
			bad++
		}
		fmt.Printf("%s %5dx  max %8.2f ms  %s\n", mark, v.runs, v.maxMS, truncate(v.query, 150))
		if len(v.scans) > 0 {
			fmt.Printf("            sequential scan of %s\n", strings.Join(v.scans, ", "))
		}
	}
	if len(plans) == 0 {
		return fmt.Errorf("no plans found in %s: is auto_explain available to the server?", logPath)
	}
	if bad > 0 {
		return fmt.Errorf("%d statements scan a large table sequentially", bad)
	}
	fmt.Println("\nno sequential scan of a large table")
	return nil
}

type loggedPlan struct {
	Query    string         `json:"Query Text"`
	Plan     map[string]any `json:"Plan"`
	Duration float64        `json:"-"` // ms, from auto_explain's "duration: N ms" before the plan
}

// parsePlans finds auto_explain's JSON plans ("... plan:" followed by a JSON object) in a log.
func parsePlans(text []byte) []loggedPlan {
	var out []loggedPlan
	marker := []byte("plan:\n")
	for {
		i := bytes.Index(text, marker)
		if i < 0 {
			return out
		}
		var dur float64
		if j := bytes.LastIndex(text[:i], []byte("duration: ")); j >= 0 && i-j < 64 {
			fmt.Sscanf(string(text[j+len("duration: "):i]), "%f", &dur)
		}
		text = text[i+len(marker):]
		dec := json.NewDecoder(bytes.NewReader(text))
		var p loggedPlan
		if err := dec.Decode(&p); err != nil {
			continue
		}
		p.Duration = dur
		out = append(out, p)
		text = text[dec.InputOffset():]
	}
}

// seqScans lists the relations a plan scans sequentially.
func seqScans(node map[string]any) []string {
	var out []string
	if node == nil {
		return nil
	}
	if t, _ := node["Node Type"].(string); t == "Seq Scan" {
		if rel, _ := node["Relation Name"].(string); rel != "" {
			out = append(out, rel)
		}
	}
	if kids, ok := node["Plans"].([]any); ok {
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				out = append(out, seqScans(m)...)
			}
		}
	}
	return out
}
